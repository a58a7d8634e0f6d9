"""tollgate.metrics: what a function prints for CloudWatch (the embedded metric format, read back
from stdout), one document per invocation, in the namespace and dimension the alarms expect."""

from __future__ import annotations

import pytest

from testkit.emf import emf_documents, emitted_metrics
from tollgate import contract
from tollgate.metrics import EmbeddedMetrics, published_per_invocation


def invocation(record):
    """A handler that records with `record(metrics)`, wrapped as every Tollgate handler is."""

    @published_per_invocation
    def handler(_event, _context):
        record(EmbeddedMetrics("prod"))
        return "done"

    return handler


def test_one_document_per_invocation_in_the_namespace_with_the_stage_as_the_only_dimension(capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "tollgate-register")  # what every function has set

    def record(metrics):
        metrics.count(contract.METRIC_SIGNUPS_STARTED)
        metrics.count(contract.METRIC_SIGNUPS_STARTED)
        metrics.level(contract.METRIC_API_KEYS_IN_REGION, 1234)

    assert invocation(record)({}, None) == "done"

    (document,) = emf_documents(capsys.readouterr().out)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == contract.METRICS_NAMESPACE
    assert directive["Dimensions"] == [[contract.METRICS_STAGE_DIMENSION]]
    assert document[contract.METRICS_STAGE_DIMENSION] == "prod" and "service" not in document
    assert {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]} == {
        contract.METRIC_SIGNUPS_STARTED: "Count",
        contract.METRIC_API_KEYS_IN_REGION: "Count",
    }
    assert document[contract.METRIC_SIGNUPS_STARTED] == [1.0, 1.0]  # CloudWatch sums them
    assert document[contract.METRIC_API_KEYS_IN_REGION] == [1234.0]


def test_a_zero_counter_is_not_published_but_a_zero_level_is(capsys):
    def record(metrics):
        metrics.count(contract.METRIC_ACCOUNTS_REPAIRED, 0)
        metrics.level(contract.METRIC_API_KEYS_IN_REGION, 0)

    invocation(record)({}, None)

    assert emitted_metrics(capsys.readouterr().out) == {contract.METRIC_API_KEYS_IN_REGION: [0.0]}


def test_an_invocation_that_records_nothing_prints_nothing(capsys):
    invocation(lambda metrics: None)({}, None)

    assert emf_documents(capsys.readouterr().out) == []


def test_the_metrics_of_an_invocation_that_raises_are_still_printed(capsys):
    def record(metrics):
        metrics.count(contract.METRIC_USAGE_REPORT_FAILURES)
        raise RuntimeError("the handler failed")

    with pytest.raises(RuntimeError):
        invocation(record)({}, None)

    assert emitted_metrics(capsys.readouterr().out) == {contract.METRIC_USAGE_REPORT_FAILURES: [1.0]}


def test_nothing_is_carried_over_to_the_next_invocation_even_with_metrics_disabled(capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")  # as make dev runs the handlers
    invocation(lambda metrics: metrics.count(contract.METRIC_SIGNUPS_STARTED))({}, None)
    assert emf_documents(capsys.readouterr().out) == []

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    invocation(lambda metrics: metrics.count(contract.METRIC_SIGNUPS_CONFIRMED))({}, None)

    assert emitted_metrics(capsys.readouterr().out) == {contract.METRIC_SIGNUPS_CONFIRMED: [1.0]}
