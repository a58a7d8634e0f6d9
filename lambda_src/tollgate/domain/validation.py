"""Parse and normalise a sign-up request body into a Registrant, or say exactly what is wrong.

Everything a stranger can send ends here either as a Registrant whose fields are safe to store
and forward to Stripe and Moesif, or as ValidationFailed / RequestTooLarge naming each bad field,
so the handler never turns bad input into a 5xx.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from tollgate.domain.errors import RequestTooLarge, ValidationFailed
from tollgate.domain.models import Registrant

# A valid body is well under 1 KiB (254-character email, two 100-character names).
MAX_BODY_BYTES = 4096
MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit
MAX_EMAIL_LOCAL_PART_LENGTH = 64
MAX_NAME_LENGTH = 100

FIELD_EMAIL = "email"
FIELD_FIRST_NAME = "firstname"
FIELD_LAST_NAME = "lastname"
FIELD_PLAN = "plan"  # optional: a plan id (tollgate.plans); absent: the default plan
FIELD_PACK = "pack"  # a prepaid plan's credit pack id (tollgate.plans.CreditPack; same form as a plan id)
FIELD_SESSION_ID = "sessionId"  # POST /billing/checkout/outcome
FIELD_TOKEN = "token"  # POST /api/signup/confirm, /api/signin/confirm: the emailed link's token
FIELD_KEY_ID = "keyId"  # POST /billing/checkout, POST /api/account/keys/revoke
FIELD_EVERYWHERE = "everywhere"  # POST /api/signout
FIELD_BODY = "body"  # the error key when the body as a whole is unusable

_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_TOP_LEVEL_DOMAIN = re.compile(r"^[A-Za-z]{2,63}$|^xn--[A-Za-z0-9-]{1,59}$")
_KEY_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")  # key ids: the start of the key's hash (hex)
_PLAN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")  # infra/plan_settings.py checks the same at synth
_LINK_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")  # secrets.token_urlsafe output
_CHECKOUT_SESSION_ID = re.compile(r"^cs_(test|live)_[A-Za-z0-9]{1,200}$")  # Stripe Checkout session ids
# Control, format (zero-width space, bidi overrides), surrogate, private-use, unassigned characters
# and line/paragraph separators: invisible or unrenderable in a name, and some break logs or
# invoices. Two format characters are part of real names and stay allowed: ZERO WIDTH NON-JOINER
# (U+200C: Persian, Indic scripts) and ZERO WIDTH JOINER (U+200D: Indic conjuncts, emoji sequences).
_FORBIDDEN_NAME_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
NAME_JOINERS = frozenset({"\u200c", "\u200d"})
# A sign-up or checkout body is one flat object; deeper nesting (in an ignored field) is refused
# before parsing, since json.loads recurses once per level (1,000 levels fit in 4 KB).
MAX_JSON_DEPTH = 16


def parse_registration(body: str | bytes | None, plan_ids: tuple[str, ...]) -> Registrant:
    """The normalised Registrant in `body` (JSON `{"email", "firstname", "lastname"}`, and `plan`:
    one of `plan_ids`, optional: absent means the default plan).

    Unknown fields are ignored. Raises RequestTooLarge above MAX_BODY_BYTES and ValidationFailed
    with one message per bad field otherwise.
    """
    document = decode_body(body)
    fields: dict[str, str] = {}
    email = _checked(document, FIELD_EMAIL, _email_problem, fields)
    first_name = _checked(document, FIELD_FIRST_NAME, _name_problem, fields)
    last_name = _checked(document, FIELD_LAST_NAME, _name_problem, fields)
    plan_id = document.get(FIELD_PLAN)
    if plan_id is not None and plan_id not in plan_ids:
        fields[FIELD_PLAN] = f"must be one of the plans on offer: {', '.join(plan_ids)}"
    if fields:
        raise ValidationFailed(fields_summary(fields), fields)
    return Registrant(
        email=normalise_email(email), first_name=first_name.strip(), last_name=last_name.strip(), plan_id=plan_id
    )


def parse_checkout_request(body: str | bytes | None) -> str:
    """The key id in a POST /billing/checkout body (JSON `{"keyId"}`)."""
    return _one_field(body, FIELD_KEY_ID, _key_id_problem)


def parse_checkout_outcome_request(body: str | bytes | None) -> str:
    """The Checkout session id in a POST /billing/checkout/outcome body (JSON `{"sessionId"}`)."""
    return _one_field(body, FIELD_SESSION_ID, _session_id_problem)


def parse_link_token(body: str | bytes | None) -> str:
    """The emailed link's token in a confirm body (JSON `{"token"}`)."""
    return _one_field(
        body,
        FIELD_TOKEN,
        lambda token: None if _LINK_TOKEN.match(token) else "must be the token from the link we emailed you",
    )


def parse_sign_in_request(body: str | bytes | None) -> str:
    """The normalised email in a POST /api/signin body (JSON `{"email"}`)."""
    return normalise_email(_one_field(body, FIELD_EMAIL, _email_problem))


def parse_revoke_request(body: str | bytes | None) -> str:
    """The key id in a POST /api/account/keys/revoke body (JSON `{"keyId"}`)."""
    return _one_field(body, FIELD_KEY_ID, _key_id_problem)


def parse_plan_request(body: str | bytes | None) -> str:
    """The plan id in a POST /api/account/plan body (JSON `{"plan"}`); whether it is on offer is the
    plan change's to say."""
    return _one_field(
        body,
        FIELD_PLAN,
        lambda plan_id: None if _PLAN_ID.match(plan_id) else "must be the id of one of the plans on offer",
    )


def parse_credit_pack_request(body: str | bytes | None) -> str:
    """The pack id in a POST /api/account/credits body (JSON `{"pack"}`); whether the plan sells it is
    the purchase's to say (tollgate.domain.credit_purchases)."""
    return _one_field(
        body,
        FIELD_PACK,
        lambda pack_id: None if _PLAN_ID.match(pack_id) else "must be the id of one of your plan's credit packs",
    )


def parse_sign_out_request(body: str | bytes | None) -> bool:
    """Whether a POST /api/signout body (JSON `{}` or `{"everywhere": true}`) ends every session."""
    everywhere = decode_body(body).get(FIELD_EVERYWHERE, False)
    if not isinstance(everywhere, bool):
        raise ValidationFailed(
            f"The field '{FIELD_EVERYWHERE}' must be true or false.", {FIELD_EVERYWHERE: "must be true or false"}
        )
    return everywhere


# What is wrong with a field's (trimmed) value, said for the user; None: nothing.
ProblemOf = Callable[[str], str | None]


def _one_field(body: str | bytes | None, name: str, problem_of: ProblemOf) -> str:
    fields: dict[str, str] = {}
    value = _checked(decode_body(body), name, problem_of, fields)
    if fields:
        raise ValidationFailed(fields_summary(fields), fields)
    return value.strip()


def normalise_email(email: str) -> str:
    """The form one account is keyed by: trimmed and case-folded, so `Ann@X.io ` is `ann@x.io`."""
    return email.strip().casefold()


def decode_body(body: str | bytes | None) -> dict[str, Any]:
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else (body or b"")
    if len(raw) > MAX_BODY_BYTES:
        raise RequestTooLarge(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    if not raw.strip():
        raise ValidationFailed("The request body is empty.", {FIELD_BODY: "send a JSON object"})
    if _nesting_depth(raw) > MAX_JSON_DEPTH:
        raise ValidationFailed(
            f"The request body nests objects or arrays more than {MAX_JSON_DEPTH} levels deep.",
            {FIELD_BODY: "must be a flat JSON object"},
        )
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValidationFailed("The request body is not valid JSON.", {FIELD_BODY: "must be a JSON object"}) from None
    if not isinstance(document, dict):
        raise ValidationFailed("The request body must be a JSON object.", {FIELD_BODY: "must be a JSON object"})
    return document


def _nesting_depth(raw: bytes) -> int:
    """The deepest nesting of [ and { outside JSON strings (a scan of the bytes, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def _checked(document: dict[str, Any], name: str, problem_of: ProblemOf, fields: dict[str, str]) -> str:
    value = document.get(name)
    if value is None:
        fields[name] = "is required"
    elif not isinstance(value, str):
        fields[name] = "must be a string"
    elif not value.strip():
        fields[name] = "must not be empty"
    elif problem := problem_of(value.strip()):
        fields[name] = problem
    else:
        return value
    return ""


def _email_problem(email: str) -> str | None:
    if len(email) > MAX_EMAIL_LENGTH:
        return f"must be at most {MAX_EMAIL_LENGTH} characters"
    if not email.isascii():
        return "must contain only ASCII characters"
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain:
        return "must look like name@example.com"
    if len(local) > MAX_EMAIL_LOCAL_PART_LENGTH or not _LOCAL_PART.match(local):
        return "has an invalid part before the @"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        return "has an invalid domain after the @"
    if not _TOP_LEVEL_DOMAIN.match(labels[-1]):
        return "has an invalid domain after the @"
    return None


def _name_problem(name: str) -> str | None:
    if len(name) > MAX_NAME_LENGTH:
        return f"must be at most {MAX_NAME_LENGTH} characters"
    if any(
        unicodedata.category(character) in _FORBIDDEN_NAME_CATEGORIES and character not in NAME_JOINERS
        for character in name
    ):
        return "must not contain control or invisible characters"
    return None


def _key_id_problem(key_id: str) -> str | None:
    if not _KEY_ID.match(key_id):
        return "must be the key ID shown with your key (letters and digits)"
    return None


def _session_id_problem(session_id: str) -> str | None:
    if not _CHECKOUT_SESSION_ID.match(session_id):
        return "must be the Checkout session id Stripe returned (cs_...)"
    return None


def fields_summary(fields: dict[str, str]) -> str:
    if len(fields) == 1:
        ((name, problem),) = fields.items()
        return f"The field '{name}' {problem}."
    return "Some fields are invalid: " + ", ".join(sorted(fields)) + "."
