"""A tiny evaluator of the AWS WAF statements infra/waf.py writes, so the tests check which requests a
rule matches, not how its statement is spelled.

It knows the statement types and text transformations the stack uses, as the AWS WAF API reference
describes them (https://docs.aws.amazon.com/waf/latest/APIReference/API_Statement.html,
API_TextTransformation.html), and refuses any other, so a new kind of statement needs its evaluation
here before a test can pass over it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from infra_synth import resolve_join

NOT_STRIPE_IP = "198.51.100.7"  # TEST-NET-2: in no published list


@dataclass(frozen=True)
class Request:
    """What a rule can look at: the URI path as the client sent it, the headers, the source IP."""

    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    ip: str = NOT_STRIPE_IP


def normalize_path(path: str) -> str:
    """NORMALIZE_PATH: "Remove multiple slashes, directory self-references, and directory
    back-references that are not at the beginning of the input from an input string." A trailing
    slash is kept (the documentation does not say it goes; the stack's expressions allow both)."""
    kept: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == ".." and kept and kept[-1] != "..":
            kept.pop()
        else:
            kept.append(segment)
    normalized = ("/" if path.startswith("/") else "") + "/".join(kept)
    return normalized + "/" if path.endswith("/") and kept else normalized


TRANSFORMATIONS = {"NONE": lambda text: text, "URL_DECODE": unquote, "NORMALIZE_PATH": normalize_path}


class WebAcl:
    """The synthesized WebACL's rules, by name, with the IP sets they refer to."""

    def __init__(self, synth: Any) -> None:
        (acl,) = synth.resources("AWS::WAFv2::WebACL").values()
        self.rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
        self._ip_sets = {
            logical_id: [ipaddress.ip_network(address) for address in ip_set["Properties"]["Addresses"]]
            for logical_id, ip_set in synth.resources("AWS::WAFv2::IPSet").items()
        }

    def scope(self, rule_name: str) -> dict[str, Any]:
        """The statement a rule's requests must match: a rate-based rule's scope-down, else its statement."""
        statement = self.rules[rule_name]["Statement"]
        return statement["RateBasedStatement"]["ScopeDownStatement"] if "RateBasedStatement" in statement else statement

    def counts(self, rule_name: str, request: Request) -> bool:
        """Whether `request` is one the rule counts (rate-based) or acts on."""
        return self.matches(self.scope(rule_name), request)

    def matches(self, statement: dict[str, Any], request: Request) -> bool:
        ((kind, body),) = statement.items()
        if kind == "OrStatement":
            return any(self.matches(nested, request) for nested in body["Statements"])
        if kind == "AndStatement":
            return all(self.matches(nested, request) for nested in body["Statements"])
        if kind == "NotStatement":
            return not self.matches(body["Statement"], request)
        if kind == "RegexMatchStatement":
            return re.search(body["RegexString"], _inspected(body, request)) is not None
        if kind == "ByteMatchStatement":
            search = resolve_join(body["SearchString"])
            return _byte_match(body["PositionalConstraint"], search, _inspected(body, request))
        if kind == "IPSetReferenceStatement":
            (logical_id, _) = body["Arn"]["Fn::GetAtt"]
            return any(ipaddress.ip_address(request.ip) in network for network in self._ip_sets[logical_id])
        raise NotImplementedError(f"tests/infra/waf_rules.py cannot evaluate a {kind}: add it before relying on it")


def _inspected(body: dict[str, Any], request: Request) -> str:
    """The request component the statement looks at, after its text transformations (lowest priority first)."""
    ((component, spec),) = body["FieldToMatch"].items()
    if component == "UriPath":
        text = request.path
    elif component == "SingleHeader":
        wanted = spec["Name"].lower()
        text = next((value for name, value in request.headers.items() if name.lower() == wanted), "")
    else:
        raise NotImplementedError(f"tests/infra/waf_rules.py cannot read a {component}")
    for transformation in sorted(body["TextTransformations"], key=lambda t: t["Priority"]):
        text = TRANSFORMATIONS[transformation["Type"]](text)
    return text


def _byte_match(constraint: str, search: str, text: str) -> bool:
    checks = {
        "EXACTLY": text == search,
        "STARTS_WITH": text.startswith(search),
        "ENDS_WITH": text.endswith(search),
        "CONTAINS": search in text,
    }
    return checks[constraint]
