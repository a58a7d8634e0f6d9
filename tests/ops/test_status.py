"""`make status` (ops/status.py): one screen about a deployment. Against `make dev` as an operator
runs it (a sign-up, a cancellation whose webhook was lost, the reconciler's repair; a newcomer's
first minutes: calls billed, then one that bills nothing), and on moto in-process for what needs a
look (a failed row, dead-lettered usage, a firing alarm) and for the errors an operator meets (no
deployment, a part that cannot be read)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import boto3
import pytest
import stripe

from localdev.__main__ import PROJECT_ROOT
from localdev.dev_stack_process import DevStackProcess
from localdev.emulators import STRIPE_TEST_SECRET_KEY
from ops.status import EXIT_ATTENTION, EXIT_FAILED, main
from testkit.commands import run_command
from testkit.dev_stack import request, sign_up, wait_until
from testkit.lambda_events import KEY_OWNER
from tollgate import contract
from tollgate.adapters.aws_clients import AwsClients
from tollgate.adapters.dynamo_accounts import DynamoAccounts
from tollgate.adapters.dynamo_key_items import DynamoKeyItems
from tollgate.adapters.dynamo_reconciler_runs import DynamoReconcilerRuns
from tollgate.adapters.dynamo_usage_reports import DynamoUsageReports
from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.api_key_format import key_hash
from tollgate.domain.models import ReconcilerRun
from tollgate.plans import PlanCatalog


def run(environ: dict[str, str], *argv: str) -> tuple[int, str]:
    return run_command(main, argv, environ=environ)


def line_of(output: str, label: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(label))


def test_a_quiet_deployment_says_so_part_by_part(environment, accounts):
    status, output = run(environment)

    assert status == 0, output
    assert line_of(output, "Accounts").split()[1:3] == [
        "pending",
        str(accounts.count_by_status().get(AccountStatus.PENDING, 0)),
    ]
    assert "of 10,000 in this region" in line_of(output, "API keys")
    assert "dead letters 0" in line_of(output, "Metering")
    assert "no alarm named 'tollgate-test/prod: '" in line_of(output, "Alarms")
    assert output.endswith("\nNothing needs a look.\n")


def test_a_failed_row_dead_lettered_usage_and_a_firing_alarm_need_a_look(environment, accounts, aws):
    accounts.create(Account(email=f"{uuid.uuid4().hex[:8]}@example.com", status=AccountStatus.FAILED))
    boto3.client("sqs").send_message(QueueUrl=aws.usage.dead_letter_queue_url, MessageBody="{}")
    cloudwatch = boto3.client("cloudwatch")
    for title in ("usage dead-lettered", "API 5xx"):
        cloudwatch.put_metric_alarm(
            AlarmName=f"{KEY_OWNER}{contract.ALARM_NAME_SEPARATOR}{title}",
            MetricName="m",
            Namespace="n",
            Statistic="Sum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
    cloudwatch.set_alarm_state(
        AlarmName=f"{KEY_OWNER}{contract.ALARM_NAME_SEPARATOR}usage dead-lettered",
        StateValue="ALARM",
        StateReason="test",
    )
    DynamoReconcilerRuns(AwsClients().client("dynamodb"), aws.accounts_table).save(
        ReconcilerRun(
            started_at=int(time.time()) - 70,
            finished_at=int(time.time()) - 65,
            examined=3,
            repaired=1,
            failed=0,
            repairs=("sub_1 -> canceled",),
            repairs_at=int(time.time()) - 65,
        )
    )
    try:
        status, output = run(environment)
        status_for_a_script, _ = run(environment, "--exit-code")
    finally:
        boto3.client("sqs").purge_queue(QueueUrl=aws.usage.dead_letter_queue_url)

    assert status == 0, output  # every part was read: the screen says what needs a look
    assert output.endswith("\nNeeds a look: Metering, Failed, Alarms.\n")
    assert status_for_a_script == EXIT_ATTENTION  # --exit-code: 1, for a script that alerts on it
    assert "make failed-accounts" in line_of(output, "Failed")
    assert "dead letters 1: run make usage-redrive" in line_of(output, "Metering")
    assert line_of(output, "Alarms").endswith("usage dead-lettered")  # the one firing, not "API 5xx"
    assert "API 5xx" not in output
    reconciler = line_of(output, "Reconciler")
    assert "last run 1m ago" in reconciler and "examined 3, repaired 1" in reconciler
    assert "latest repairs 1m ago: sub_1 -> canceled" in output


def test_a_part_that_cannot_be_read_says_why_and_the_others_still_show(environment):
    broken = environment | {contract.ENV_USAGE_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/gone"}

    status, output = run(broken)

    assert status == EXIT_FAILED
    assert line_of(output, "Metering").split(None, 1)[1].startswith("could not read: ")
    assert "of 10,000 in this region" in line_of(output, "API keys")


def test_without_a_deployment_the_error_names_the_three_ways_to_choose_one(aws, capsys, tmp_path):
    status, output = run({"DEV_STACK_FILE": str(tmp_path / "no-dev-stack.json")})

    assert status == EXIT_FAILED and output == ""
    error = capsys.readouterr().err
    assert "no Tollgate deployment to act on" in error and "--function NAME" in error and "make dev" in error


@pytest.fixture(scope="module")
def dev_stack() -> Iterator[DevStackProcess]:
    """`make dev` with its scheduled functions every 2 seconds (make dev ARGS="--schedule-seconds 2")."""
    with DevStackProcess(schedule_seconds=2) as running:
        yield running


def test_make_status_against_make_dev_after_a_sign_up_a_lost_cancellation_and_a_reconciler_run(dev_stack):
    stripe_api = stripe.StripeClient(STRIPE_TEST_SECRET_KEY, base_addresses={"api": dev_stack.urls["stripe"]})
    apigateway = boto3.client(
        "apigateway",
        endpoint_url=dev_stack.urls["moto"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    published = json.loads(dev_stack.stack_file.read_text())["environment"]  # what make dev tells the ops commands
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=dev_stack.urls["moto"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    accounts = DynamoAccounts(dynamodb, published[contract.ENV_ACCOUNTS_TABLE])
    account = sign_up(dev_stack.urls)
    item = DynamoKeyItems(dynamodb, published[contract.ENV_KEYS_TABLE]).get(key_hash(account["apikey"]))
    # The sign-up's own invoice.paid, which Stripe sends once it answered, reaches the webhook first.
    wait_until(lambda: accounts.get(item.account).last_billing_event_id, "the first invoice.paid")
    usage_key_id = accounts.get(item.account).api_key_id
    (endpoint,) = stripe_api.v1.webhook_endpoints.list().data
    stripe_api.v1.webhook_endpoints.update(endpoint.id, {"url": "http://127.0.0.1:9/misconfigured"})
    try:
        stripe_api.v1.subscriptions.cancel(account["subscriptionId"])  # customer.subscription.deleted: lost
        wait_until(lambda: not apigateway.get_api_key(apiKey=usage_key_id)["enabled"], "the reconciler's repair")
    finally:
        stripe_api.v1.webhook_endpoints.update(endpoint.id, {"url": endpoint.url})

    result = subprocess.run(
        [sys.executable, "-m", "ops.status"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DEV_STACK_FILE": str(dev_stack.stack_file)},
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Using the running make dev stack" in result.stderr
    output = result.stdout
    assert "active 0" in line_of(output, "Accounts") and "canceled 1" in line_of(output, "Accounts")
    # The paid account's key, the free plan's pool (tollgate.domain.key_pools) and the "limit reached" key of
    # accounts over a usage limit.
    pooled = sum(plan.pool_size for plan in PlanCatalog.from_json(published[contract.ENV_PLANS]))
    assert pooled > 0 and line_of(output, "API keys").startswith(f"API keys     {2 + pooled} of 10,000 in this region")
    assert f"{account['subscriptionId']} -> canceled" in output, output  # what the reconciler repaired
    assert "no sign-up left failed" in line_of(output, "Failed")
    assert "make dev creates none" in line_of(output, "Alarms")


@pytest.fixture(scope="module")
def newcomer_stack() -> Iterator[DevStackProcess]:
    """`make dev` as a newcomer starts it: the scheduled functions on their deployed intervals."""
    with DevStackProcess() as running:
        yield running


def test_make_status_against_a_fresh_make_dev_after_billed_calls_then_one_that_bills_nothing(
    newcomer_stack: DevStackProcess,
) -> None:
    """Issue 19: after 19 billable calls, make status said "last report: 0 billable call(s) of 0 customer(s)"
    (the newest ledger object held only a call that bills nothing), that the reconciler had not run (make
    dev ran it one interval after its start, 15 minutes, where AWS runs a schedule without a start date
    at once), and make printed "Error 1" (exit 1 for a screen that needs a look)."""
    urls = newcomer_stack.urls
    published = json.loads(newcomer_stack.stack_file.read_text())["environment"]
    reports = DynamoUsageReports(
        boto3.client(
            "dynamodb",
            endpoint_url=urls["moto"],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ),
        published[contract.ENV_USAGE_REPORTS_TABLE],
    )
    account = sign_up(urls)
    for _ in range(19):
        assert request(urls["api"] + "/hello", headers={"x-api-key": account["apikey"]})[0] == 200
    wait_until(lambda: reports.billable_calls(account["customerId"], 0, 2**31) == 19, "the 19 calls billed")
    assert request(urls["api"] + "/hello")[0] == 403  # no key: logged, billed to nobody
    # (the 19 count once their reports are pending, before the reporter saves the object's summary)
    wait_until(lambda: getattr(reports.latest_summary(), "billed", None) == 0, "the report of the 403")

    result = subprocess.run(
        ["make", "--no-print-directory", "status"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DEV_STACK_FILE": str(newcomer_stack.stack_file)},
        timeout=120,
    )

    assert result.returncode == 0 and "Error" not in result.stderr, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert next(line for line in lines if "last report" in line).endswith(
        "0 billable call(s), 0 billed to 0 customer(s)"
    ), result.stdout
    last_billed = re.search(
        r"last billed .*: (\d+) billable call\(s\), \1 billed to 1 customer\(s\)$", result.stdout, re.MULTILINE
    )
    assert last_billed and int(last_billed.group(1)) > 0, result.stdout  # 19, or the last part of them
    assert line_of(result.stdout, "Reconciler").split(None, 1)[1].startswith("last run "), result.stdout
    assert lines[-1] == "Nothing needs a look."
