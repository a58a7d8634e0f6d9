"""How the ops commands write times for a terminal."""

from __future__ import annotations


def age(seconds: int) -> str:
    """A duration as the largest two units that matter: 3d4h, 5h12m, 7m."""
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if days:
        return f"{days}d{hours % 24}h"
    if hours:
        return f"{hours}h{minutes % 60}m"
    return f"{minutes}m"
