"""The checks every cdk.json context value goes through, for infra/settings.py and the settings
objects it composes (branding, domains, plans).

Each check reads one key, records what the key accepts in the words its error message uses (the
settings page shows them: `Settings.accepted_values`), and turns every problem into a SettingsError
naming the key and what to set, so a wrong value fails the synth before anything reaches
CloudFormation. Plain Python, no CDK import: `make dev` reads the settings with the same checks.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from tollgate import contract

# What a boolean accepts from the command line, where every `-c key=value` arrives as a string.
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class SettingsError(ValueError):
    """A cdk.json context value is missing or malformed; the message names the key."""


class Reader:
    """Reads one key at a time and turns every problem into a SettingsError naming that key."""

    def __init__(self, context: Mapping[str, Any]) -> None:
        self._context = context
        # key -> what it accepts, as its error message says it: docs/settings.md shows the same words.
        self.expected: dict[str, str] = {}

    @property
    def context(self) -> Mapping[str, Any]:
        """The flat context values as given, for a reader of several keys at once (the plans)."""
        return self._context

    def _fail(self, key: str, expected: str, value: Any) -> SettingsError:
        return SettingsError(f"cdk.json context '{key}' must be {expected}; got {value!r}")

    def _present(self, key: str) -> Any:
        """The key's value, stripped if text; None when absent or blank."""
        value = self._context.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return value.strip() if isinstance(value, str) else value

    def _required(self, key: str, expected: str) -> Any:
        self.expected[key] = expected
        value = self._present(key)
        if value is None:
            raise SettingsError(f"cdk.json context '{key}' is missing; expected {expected}")
        return value

    def _optional(self, key: str, expected: str) -> Any:
        self.expected[key] = expected
        return self._present(key)

    def exclusive(self, key: str, other: str, why: str) -> None:
        """Refuse two keys that are each optional but cannot both be set."""
        if self._present(key) is not None and self._present(other) is not None:
            raise SettingsError(f"cdk.json context '{key}' and '{other}' are both set: {why}")

    def retired(self, key: str, instead: str) -> None:
        """Refuse a key an earlier version read, saying what replaces it."""
        if self._present(key) is not None:
            raise SettingsError(f"cdk.json context '{key}' is no longer read: {instead}")

    def matching(self, key: str, pattern: re.Pattern[str], expected: str) -> str:
        value = self._required(key, expected)
        if not isinstance(value, str) or not pattern.match(value):
            raise self._fail(key, expected, value)
        return value

    def optional_matching(self, key: str, pattern: re.Pattern[str], expected: str) -> str | None:
        expected += " or empty"
        value = self._optional(key, expected)
        if value is not None and (not isinstance(value, str) or not pattern.match(value)):
            raise self._fail(key, expected, value)
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        expected = "one of " + ", ".join(choices)
        value = self._required(key, expected)
        normalised = value.upper() if isinstance(value, str) else value
        if normalised not in choices:
            raise self._fail(key, expected, value)
        return normalised

    def lower_choice(self, key: str, choices: tuple[str, ...]) -> str:
        expected = "one of " + ", ".join(choices)
        value = self._required(key, expected)
        if not isinstance(value, str) or value.lower() not in choices:
            raise self._fail(key, expected, value)
        return value.lower()

    def status_list(self, key: str) -> str:
        """HTTP statuses as classes (`2xx`) and exact codes (`304`), comma-separated: `2xx,304`."""
        expected = "comma-separated status classes like 2xx and status codes like 304 (e.g. '2xx' or '2xx,304')"
        value = self._required(key, expected)
        items = [item.strip().lower() for item in value.split(",")] if isinstance(value, str) else []
        if not items or not all(re.match(contract.BILLABLE_STATUS_PATTERN, item) for item in items):
            raise self._fail(key, expected, value)
        return ",".join(items)

    def _number(self, key: str, expected: str, parse: type) -> Any:
        value = self._required(key, expected)
        if isinstance(value, bool):
            raise self._fail(key, expected, value)
        try:
            number = parse(value) if isinstance(value, str) else value
        except ValueError:
            raise self._fail(key, expected, value) from None
        if parse is int and (not isinstance(number, int) or isinstance(number, bool)):
            raise self._fail(key, expected, value)
        if not isinstance(number, (int, float)):
            raise self._fail(key, expected, value)
        return number

    def positive_number(self, key: str) -> float:
        expected = "a number greater than 0"
        number = self._number(key, expected, float)
        if number <= 0:
            raise self._fail(key, expected, number)
        return float(number)

    def positive_int(self, key: str) -> int:
        expected = "a whole number greater than 0"
        number = self._number(key, expected, int)
        if number <= 0:
            raise self._fail(key, expected, number)
        return number

    def int_between(self, key: str, lowest: int, highest: int) -> int:
        expected = f"a whole number from {lowest} to {highest}"
        number = self._number(key, expected, int)
        if not lowest <= number <= highest:
            raise self._fail(key, expected, number)
        return number

    def int_at_most_other(self, key: str, lowest: int, highest: int, other: str, factor: int) -> int:
        """A whole number from `lowest` to `highest` and at most `factor` x the (already read) `other`."""
        number = self.int_between(key, lowest, highest)
        limit = self._context.get(other)
        expected = f"a whole number from {lowest} to {highest}, at most {other} x {factor}"
        self.expected[key] = expected
        if isinstance(limit, (int, str)) and str(limit).strip().isdigit() and number > int(limit) * factor:
            raise self._fail(key, f"{expected} ({int(limit) * factor})", number)
        return number

    def ipv4_list(self, key: str) -> tuple[str, ...]:
        """A JSON list in cdk.json, or comma-separated on the command line (`-c key=a,b`)."""
        expected = "a list of IPv4 addresses (cdk.json list, or comma-separated with -c)"
        value = self._required(key, expected)
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise self._fail(key, expected, value)
        addresses = []
        for item in items:
            try:
                addresses.append(str(ipaddress.IPv4Address(str(item).strip())))
            except ValueError:
                raise self._fail(key, expected, item) from None
        return tuple(addresses)

    def non_negative_int(self, key: str) -> int:
        expected = "a whole number, 0 or more"
        number = self._number(key, expected, int)
        if number < 0:
            raise self._fail(key, expected, number)
        return number

    def boolean(self, key: str) -> bool:
        expected = "true or false"
        value = self._required(key, expected)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise self._fail(key, expected, value)

    def _check_url(self, key: str, value: Any, schemes: tuple[str, ...], expected: str) -> str:
        if not isinstance(value, str):
            raise self._fail(key, expected, value)
        parsed = urlparse(value)
        if parsed.scheme not in schemes or not parsed.netloc:
            raise self._fail(key, expected, value)
        return value

    def url(self, key: str, schemes: tuple[str, ...]) -> str:
        expected = f"an absolute {' or '.join(schemes)} URL"
        return self._check_url(key, self._required(key, expected), schemes, expected)

    def optional_url(self, key: str, schemes: tuple[str, ...]) -> str | None:
        expected = f"an absolute {' or '.join(schemes)} URL, or empty for the built-in sample backend"
        value = self._optional(key, expected)
        return None if value is None else self._check_url(key, value, schemes, expected)
