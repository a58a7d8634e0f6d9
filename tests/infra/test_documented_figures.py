"""The figures the docs state about the deployed stack are the synthesized stack's: how many functions
and alarms it has, how many metrics the alarms read (CloudWatch bills each), and the idle cost the
README adds up from them. An alarm or function added without its cost in the README fails here."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from infra_synth import Synth

REPO_ROOT = Path(__file__).resolve().parents[2]
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
OPERATIONS = (REPO_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
ALARM_METRIC_MONTHLY = Decimal("0.10")  # CloudWatch: $0.10 per metric an alarm reads, a month (US East)
TOLLGATE_HANDLER_PREFIX = "tollgate.handlers."  # CDK's own functions (site deployment, notifications) aside


def stated(pattern: str, text: str) -> tuple[str, ...]:
    found = re.search(pattern, text, re.S)
    assert found, f"the docs no longer state {pattern!r}"
    return found.groups()


def alarm_metrics(synth: Synth) -> tuple[int, int]:
    alarms = list(synth.resources("AWS::CloudWatch::Alarm").values())
    metrics = sum(
        1
        if "MetricName" in alarm["Properties"]
        else sum(1 for query in alarm["Properties"]["Metrics"] if "MetricStat" in query)
        for alarm in alarms
    )
    return len(alarms), metrics


def test_the_alarm_figures_are_the_stacks(synth: Synth) -> None:
    alarms, metrics = alarm_metrics(synth)
    count, read, monthly = stated(r"CloudWatch alarms \((\d+), reading (\d+) metrics\) \| \$([\d.]+) / month", README)
    assert (int(count), int(read), Decimal(monthly)) == (alarms, metrics, metrics * ALARM_METRIC_MONTHLY)
    assert stated(r"business metrics, (\d+)\s+CloudWatch alarms", OPERATIONS) == (str(alarms),)
    assert stated(r"none firing \(of (\d+)\)", OPERATIONS) == (str(alarms),)
    assert stated(r"the alarms read (\d+) metrics at \$0\.10 each, \$([\d.]+)", OPERATIONS) == (
        str(metrics),
        f"{metrics * ALARM_METRIC_MONTHLY:.2f}",
    )


def test_the_function_count_is_the_stacks(synth: Synth) -> None:
    functions = [
        function
        for function in synth.resources("AWS::Lambda::Function").values()
        if function["Properties"].get("Handler", "").startswith(TOLLGATE_HANDLER_PREFIX)
    ]
    assert stated(r"Lambda functions \((\d+) with the usage reporter\)", README) == (str(len(functions)),)


def test_the_idle_total_adds_up() -> None:
    """The README's breakdown of the idle cost sums to its total, with and without the WAF."""
    total, waf, secrets, monitoring, alarms, kms, metrics, without_waf = (
        Decimal(value)
        for value in stated(
            r"about \*\*\$([\d.]+) a month\*\*.*?\$([\d.]+) of WAF.*?\$([\d.]+) for the four secrets and \$([\d.]+) of "
            r"monitoring \(alarms \$([\d.]+), the alarm topic's KMS key \$([\d.]+),\s+heartbeat metrics about "
            r"\$([\d.]+)\)\. With `enable_waf=false` it is about \$([\d.]+)\.",
            README,
        )
    )
    assert monitoring == alarms + kms + metrics
    assert total == waf + secrets + monitoring
    assert without_waf == total - waf
    assert stated(r"About \$([\d.]+) a month in all\.", OPERATIONS) == (f"{monitoring:.2f}",)
