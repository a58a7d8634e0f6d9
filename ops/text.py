"""How the ops commands write times and usage reports for a terminal."""

from __future__ import annotations

from tollgate.domain.usage import BatchSummary


def age(seconds: int) -> str:
    """A duration as the largest two units that matter: 3d4h, 5h12m, 7m."""
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if days:
        return f"{days}d{hours % 24}h"
    if hours:
        return f"{hours}h{minutes % 60}m"
    return f"{minutes}m"


def usage_summary(summary: BatchSummary) -> str:
    """What reporting one ledger object came to: "19 billable call(s), 16 billed to 2 customer(s), 3 on a
    free plan". Billable calls (a billable status) that nobody is billed for are said apart: a free
    plan's, and those of keys no account has (make usage-report names them)."""
    unknown = sum(summary.unknown_keys.values())
    free = summary.billable - summary.billed - unknown
    parts = [f"{summary.billable} billable call(s)", f"{summary.billed} billed to {summary.customers} customer(s)"]
    parts += [f"{free} on a free plan"] if free > 0 else []
    parts += [f"{unknown} of keys no account has"] if unknown else []
    return ", ".join(parts)
