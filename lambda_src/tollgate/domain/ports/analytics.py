"""Moesif: the companies and users its analytics and billing meters attribute calls to."""

from __future__ import annotations

from abc import ABC, abstractmethod


class Analytics(ABC):
    """Moesif companies and users: what Moesif billing meters attribute usage to."""

    @abstractmethod
    def upsert_company(self, company_id: str, metadata: dict[str, str]) -> None:
        """Create or update the company (company id = Stripe subscription id)."""

    @abstractmethod
    def upsert_user(self, user_id: str, company_id: str, metadata: dict[str, str]) -> None:
        """Create or update the user (user id = API key id). Never pass the key value."""
