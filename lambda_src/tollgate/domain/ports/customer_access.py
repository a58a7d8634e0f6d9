"""The customer access table: one-time email links, sessions, email counts, key-retirement reminders."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tollgate.domain.customer_access import EmailLink, KeyRetirement, Session


class CustomerAccess(ABC):
    """The customer access table: one-time email links, sessions, per-address email counts and the
    reminders of rotated-out keys to retire. Records are keyed by a token's hash, never the token."""

    @abstractmethod
    def put_link(self, link: EmailLink) -> None:
        """Keep a link until it is used or expires."""

    @abstractmethod
    def get_link(self, token_hash: str) -> EmailLink | None:
        """The link with this hash, if it was neither used nor removed by its TTL yet."""

    @abstractmethod
    def use_link(self, token_hash: str) -> bool:
        """Remove the link; True only for the one call that removed it (single use)."""

    @abstractmethod
    def drop_links_to(self, email: str) -> int:
        """Remove every unused link sent to `email`; how many. A full read of the table: for an
        operator's command (`make smoke` cleaning up after itself), never a request's path."""

    @abstractmethod
    def count_email(self, address_hash: str, window_start: int, limit: int, expires_at: int) -> bool:
        """Count one more email to the address in the window, unless `limit` were counted already
        (then False and nothing changes)."""

    @abstractmethod
    def put_session(self, session: Session) -> None:
        """Keep a session until it is closed or expires."""

    @abstractmethod
    def get_session(self, token_hash: str) -> Session | None:
        """The session with this hash, if it was not closed (its expiry is the caller's to check)."""

    @abstractmethod
    def delete_session(self, token_hash: str) -> None:
        """Close a session; closing a closed one is not an error."""

    @abstractmethod
    def sessions_of(self, email: str) -> list[str]:
        """The hashes of every open session of the account (to sign out everywhere)."""

    @abstractmethod
    def remind_retirement(self, reminder: KeyRetirement) -> None:
        """Remember to retire a rotated-out key once its grace is over."""

    @abstractmethod
    def due_retirements(self, now: int) -> list[KeyRetirement]:
        """Reminders whose time has come, earliest first."""

    @abstractmethod
    def forget_retirement(self, key_id: str) -> None:
        """Drop a reminder (the key is retired, or the account no longer needs it)."""
