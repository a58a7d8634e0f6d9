"""How the parts of an account row that are lists of records (its key records and status history) are stored
in its DynamoDB item, and read back in every shape earlier versions wrote."""

from __future__ import annotations

from typing import Any

from tollgate.domain.account import (
    AccountStatus,
    StatusChange,
)
from tollgate.domain.key_ring import KeyRecord, KeyState


def key_entry(record: KeyRecord) -> dict[str, Any]:
    entry = {"id": record.id, "createdAt": record.created_at, "state": record.state.value, "until": record.until}
    optional = {"hint": record.hint or None, "keyHash": record.key_hash, "gatewayKeyId": record.gateway_key_id}
    return {**entry, **{name: value for name, value in optional.items() if value is not None}}


def key_record(entry: dict[str, Any]) -> KeyRecord:
    return KeyRecord(
        entry["id"],
        int(entry["createdAt"]),
        KeyState(entry["state"]),
        int(entry["until"]) if entry.get("until") is not None else None,
        entry.get("hint", ""),
        entry.get("keyHash"),
        entry.get("gatewayKeyId"),
    )


def history_entry(change: StatusChange) -> dict[str, Any]:
    return {"at": str(change.at), "status": change.status.value, "cause": change.cause, "eventId": change.event_id}


def status_change(entry: dict[str, Any]) -> StatusChange:
    """Also reads the two shapes rows written before Tollgate 0.2 hold: {status, at} from
    sign-ups and {at, status, event, eventId} from billing events."""
    return StatusChange(
        at=int(entry["at"]),
        status=AccountStatus(entry["status"]),
        cause=entry.get("cause") or entry.get("event") or "sign-up",
        event_id=entry.get("eventId"),
    )
