"""Reading what tollgate.metrics printed: CloudWatch embedded-metric-format documents on stdout."""

from __future__ import annotations

import json


def emf_documents(stdout: str) -> list[dict]:
    """Every EMF document among the lines of `stdout` (log lines are JSON too, without `_aws`)."""
    documents = []
    for line in stdout.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            documents.append(document)
    return documents


def emitted_metrics(stdout: str) -> dict[str, list[float]]:
    """The values printed for each metric name."""
    values: dict[str, list[float]] = {}
    for document in emf_documents(stdout):
        for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            value = document[metric["Name"]]
            values.setdefault(metric["Name"], []).extend(value if isinstance(value, list) else [value])
    return values
