"""How the account row's usage-alert attributes are stored (tollgate.domain.spend_control): plain maps
of strings and numbers, amounts as decimal strings in the currency's major unit (exact, never floats)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tollgate.domain.spend_control import AlertsSent, SpendSettings


def spend_settings_entry(settings: SpendSettings) -> dict[str, Any]:
    entry: dict[str, Any] = {"amounts": [str(amount) for amount in settings.amounts], "noCap": settings.no_cap}
    if settings.quota_percents is not None:
        entry["quotaPercents"] = list(settings.quota_percents)
    if settings.cap is not None:
        entry["cap"] = str(settings.cap)
    return entry


def spend_settings_of(entry: dict[str, Any]) -> SpendSettings:
    percents = entry.get("quotaPercents")
    return SpendSettings(
        quota_percents=None if percents is None else tuple(int(percent) for percent in percents),
        amounts=tuple(Decimal(amount) for amount in entry.get("amounts", ())),
        cap=Decimal(entry["cap"]) if entry.get("cap") is not None else None,
        no_cap=bool(entry.get("noCap", False)),
    )


def alerts_sent_entry(alerts: AlertsSent) -> dict[str, Any]:
    return {"sent": list(alerts.sent), "claimed": [{"mark": mark, "at": at} for mark, at in alerts.claimed]}


def alerts_sent_of(entry: dict[str, Any]) -> AlertsSent:
    return AlertsSent(
        tuple(entry.get("sent", ())), tuple((claim["mark"], int(claim["at"])) for claim in entry.get("claimed", ()))
    )
