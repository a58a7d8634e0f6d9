"""A usage limit on the account row: why the account's calls stop, and until when.

Decided by tollgate.domain.usage_limits after each count of the account's usage, written on the row
(the one writer of this attribute) and copied to its key items, where the authorizer reads it: while
`now < until` it answers with the "limit reached" gateway key, whose usage plan allows no call, so the
stage itself answers its 429 QUOTA_EXCEEDED, naming the code and `until`
(tollgate.handlers.authorizer). It lifts by itself at `until` (the end of the period it was decided
for), and the next count decides again. It belongs to the plan it was decided on: once the account is
on another plan, it no longer applies (`applies_to`), so an upgrade restores calls with no writer
having to remember the limit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UsageLimit:
    reason: str  # contract.USAGE_LIMIT_*
    until: int  # epoch seconds: the end of the period it holds for
    plan_id: str  # the plan it was decided on

    def applies_to(self, plan_id: str) -> bool:
        return plan_id == self.plan_id

    @property
    def target(self) -> str:
        """What the key items must show of it (part of Account.key_target)."""
        return f"{self.reason}:{self.until}"
