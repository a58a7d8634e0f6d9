"""Business metrics in CloudWatch's embedded metric format (EMF), through Powertools Metrics.

Every function records its metrics on the port tollgate.domain.ports.metrics.Metrics (the wiring's `metrics`);
this adapter hands them to Powertools, and `published_per_invocation` prints them as one EMF
document (Powertools' `flush_metrics`) when the invocation ends. Lambda sends stdout to CloudWatch Logs,
which turns the document into metrics: no CloudWatch API call on any request's path
("Embedding metrics within logs", CloudWatch user guide).

- One namespace (contract.METRICS_NAMESPACE) and one dimension, the stage: the alarms and the
  dashboard (infra/monitoring.py) find each metric by its name (contract.METRIC_*) and the stage.
  Powertools would add a `service` dimension from POWERTOOLS_SERVICE_NAME, which every function
  sets for its logger; an explicit empty service leaves it out, so the register function's
  `SignupsStarted` and any other function's are the same metric.
- A counter is not published at zero: CloudWatch bills a custom metric for every hour in which it
  is published, so an idle deployment pays only for its heartbeats (docs/operations.md, "Metrics").
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Metrics as PowertoolsMetrics
from aws_lambda_powertools.metrics import MetricUnit

from tollgate import contract
from tollgate.domain.ports.metrics import Metrics

# Powertools keeps metrics in class attributes shared by every instance of the process: this one
# is the only one Tollgate makes.
_powertools = PowertoolsMetrics(namespace=contract.METRICS_NAMESPACE, service="")


class EmbeddedMetrics(Metrics):
    """The metrics of one deployment (its stage is the dimension), printed per invocation."""

    def __init__(self, stage: str) -> None:
        _powertools.set_default_dimensions(**{contract.METRICS_STAGE_DIMENSION: stage})

    def count(self, name: str, value: float = 1) -> None:
        if value:
            _powertools.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def level(self, name: str, value: float) -> None:
        _powertools.add_metric(name=name, unit=MetricUnit.Count, value=value)


def published_per_invocation(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Wrap a Lambda handler: its invocation's metrics are printed when it returns or raises (none
    printed when it recorded none, as most checkouts), and never carried over into the next
    invocation, also when POWERTOOLS_METRICS_DISABLED is set (`make dev`), where Powertools'
    `log_metrics` would keep them."""

    @functools.wraps(handler)
    def invoke(event: Any, context: Any) -> Any:
        try:
            return handler(event, context)
        finally:
            if _powertools.metric_set:
                _powertools.flush_metrics()
            _powertools.clear_metrics()

    return invoke
