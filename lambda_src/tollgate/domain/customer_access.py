"""Value objects of customer access: one-time email links, sign-in sessions and the reminders of
rotated-out keys to retire. Stored in the customer access table (tollgate.domain.ports.CustomerAccess),
always by a SHA-256 hash of their token, never the token itself."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from tollgate.domain.models import Registrant


def token_hash(token: str) -> str:
    """How a link or session token is stored and looked up: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class LinkPurpose(StrEnum):
    """What an emailed link lets its holder do (a link is good for its own purpose only)."""

    SIGN_UP = "sign-up"  # confirm a sign-up: runs the register flow for the registrant it holds
    SIGN_IN = "sign-in"  # open a session on the account page


@dataclass(frozen=True)
class EmailLink:
    """A one-time link as stored: the token's hash, who it was sent to and until when it works."""

    token_hash: str
    purpose: LinkPurpose
    email: str  # normalised
    expires_at: int  # epoch seconds
    registrant: Registrant | None = None  # sign-up links: the validated sign-up it confirms


@dataclass(frozen=True)
class Session:
    """A signed-in browser: the account's email until `expires_at`; its cookie holds the token."""

    token_hash: str
    email: str
    created_at: int
    expires_at: int


@dataclass(frozen=True)
class KeyRetirement:
    """A rotated-out key of the account of `email` to disable and delete once `due_at` passed."""

    key_id: str
    email: str
    due_at: int
