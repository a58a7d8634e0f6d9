"""Email: Tollgate's own messages to customers (SES)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tollgate.domain.models import Email


class Mailer(ABC):
    """Sends Tollgate's emails (sign-up confirmation, sign-in links)."""

    @abstractmethod
    def send(self, email: Email) -> None:
        """Send one plain-text email from the configured sender."""
