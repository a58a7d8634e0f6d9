"""The API keys Tollgate issues: `<prefix>_<mode>_<43 random base62 characters><6 checksum characters>`,
e.g. `tgk_live_...`. Shown once, stored only as their SHA-256 (plus the last four characters as a hint).

- The prefix names the issuer and the mode (`live`, or `test` when the Stripe key is a test key), so a
  leaked key is recognised on sight and by secret scanners (KEY_PATTERN is the regular expression to
  give GitHub secret scanning as a custom pattern).
- 32 random bytes (256 bits) from `secrets`, in base62 (digits and both letter cases): no character a
  URL, a header or a double-click would split.
- The last six characters are the CRC32 of everything before them, in base62: a scanner (and the
  authorizer, before any table read) tells a real key from a look-alike or a mistyped one offline,
  as GitHub's token format does ("Behind GitHub's new authentication token formats",
  https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/).
- Stored as SHA-256: the key is 256 random bits, so a fast hash cannot be reversed or brute-forced;
  a slow password hash would only cost every cache miss of the authorizer.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_BYTES = 32
RANDOM_LENGTH = 43  # 32 bytes in base62: 62**43 > 2**256
CHECKSUM_LENGTH = 6  # CRC32 in base62: 62**6 > 2**32
HINT_LENGTH = 4
MODES = ("live", "test")
PREFIX_PATTERN = r"^[a-z][a-z0-9]{1,15}$"  # infra/settings.py checks the key_prefix setting with it too
_PREFIX = re.compile(PREFIX_PATTERN)


def key_pattern(prefix: str) -> str:
    """The regular expression matching every key of `prefix` (for secret scanners)."""
    return rf"\b{re.escape(prefix)}_(?:live|test)_[0-9A-Za-z]{{{RANDOM_LENGTH + CHECKSUM_LENGTH}}}\b"


def check_prefix(prefix: str) -> str:
    """The prefix, or ValueError saying what a prefix may be."""
    if not _PREFIX.match(prefix):
        raise ValueError(
            f"{prefix!r} is not a key prefix: 2 to 16 lower-case letters and digits, starting with a letter"
        )
    return prefix


def new_key(prefix: str, mode: str) -> str:
    """A fresh key (its only copy: give it to the customer, keep its `key_hash`)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    body = f"{check_prefix(prefix)}_{mode}_{_base62(int.from_bytes(secrets.token_bytes(RANDOM_BYTES)), RANDOM_LENGTH)}"
    return body + _checksum(body)


def well_formed(key: str, prefix: str) -> bool:
    """The key has the format and its checksum matches (no table read needed to refuse a typo)."""
    if not re.fullmatch(key_pattern(prefix).replace(r"\b", ""), key):
        return False
    return _checksum(key[:-CHECKSUM_LENGTH]) == key[-CHECKSUM_LENGTH:]


def key_hash(key: str) -> str:
    """What is stored instead of the key (hex SHA-256)."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_hint(key: str) -> str:
    """What may be shown or logged of a key: its last four characters."""
    return key[-HINT_LENGTH:]


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LENGTH)


def _base62(number: int, length: int) -> str:
    digits = []
    while number:
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits)).rjust(length, ALPHABET[0])
