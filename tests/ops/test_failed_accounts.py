"""`python -m ops.failed_accounts` on moto + the localstripe bridge: it lists `failed` rows with
their ids, reason and age, and `--clean` undoes what they hold and removes them; abandoned `pending` rows count too."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import boto3
import pytest

from localdev.emulators import STRIPE_TEST_SECRET_KEY
from ops.failed_accounts import main
from testkit.commands import run_command
from testkit.lambda_events import KEY_OWNER
from tollgate.adapters.api_gateway_keys import ApiGatewayKeys
from tollgate.adapters.aws_clients import AwsClients
from tollgate.adapters.stripe_billing import StripeBilling
from tollgate.adapters.stripe_client import stripe_client
from tollgate.domain.account import RESERVATION_LEASE_SECONDS, Account, AccountStatus
from tollgate.domain.models import Registrant


@pytest.fixture
def failed_sign_up(aws, accounts, stripe_api, price_id) -> Iterator[Account]:
    """What a rollback that could not undo leaves: a key in the plan, a customer, a live
    subscription, and a `failed` row holding their ids."""
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    keys = ApiGatewayKeys(AwsClients().client("apigateway"), KEY_OWNER)
    billing = StripeBilling(lambda: stripe_client(STRIPE_TEST_SECRET_KEY, stripe_api))
    key = keys.create_key("tollgate-failed", "")
    keys.attach_to_plan(key.id, aws.usage_plan_id)
    customer_id = billing.create_customer(Registrant(email, "Ann", "Lee"), key.id, f"c-{uuid.uuid4()}")
    subscription_id = billing.subscribe(customer_id, price_id, f"s-{uuid.uuid4()}")
    row = Account(
        email=email,
        status=AccountStatus.FAILED,
        api_key_id=key.id,
        customer_id=customer_id,
        subscription_id=subscription_id,
        attempt_id="a1",
        failure_reason="Stripe: delete customer failed",
        updated_at=int(time.time()) - 3 * 3600 - 120,
    )
    accounts.create(row)
    yield row
    leftover = accounts.get(email)  # none when the test cleaned it
    if leftover is not None:
        accounts.delete(leftover)


def run(*argv, environ, clock=time.time) -> tuple[int, str]:
    return run_command(main, argv, environ=environ, clock=clock)


def test_failed_accounts_are_listed_with_ids_reason_and_age(failed_sign_up, environment):
    status, output = run(environ=environment)

    assert status == 0
    line = next(line for line in output.splitlines() if line.startswith(failed_sign_up.email))
    assert f"key {failed_sign_up.api_key_id}" in line
    assert f"customer {failed_sign_up.customer_id}" in line
    assert f"subscription {failed_sign_up.subscription_id}" in line
    assert " failed 3h2m ago " in line and "Stripe: delete customer failed" in line
    assert "--clean" in output


def test_clean_undoes_everything_a_failed_row_holds_and_removes_it(
    failed_sign_up, environment, accounts, aws, stripe_client
):
    status, output = run("--clean", environ=environment)

    assert status == 0, output
    assert f"{failed_sign_up.email}: cleaned" in output
    assert accounts.get(failed_sign_up.email) is None
    key_ids = {key["id"] for key in boto3.client("apigateway").get_api_keys()["items"]}
    assert failed_sign_up.api_key_id not in key_ids
    assert stripe_client.v1.subscriptions.retrieve(failed_sign_up.subscription_id).status == "canceled"
    assert stripe_client.v1.customers.list({"email": failed_sign_up.email}).data == []
    assert run(environ=environment) == (0, "No failed accounts and no orphaned keys.\n")


def test_a_row_whose_cleanup_fails_again_stays_with_the_new_reason(failed_sign_up, environment, accounts):
    unreachable_stripe = environment | {"TOLLGATE_STRIPE_API_BASE": "http://127.0.0.1:9"}

    status, output = run("--clean", environ=unreachable_stripe)

    assert status == 1
    assert f"{failed_sign_up.email}: still failing" in output
    row = accounts.get(failed_sign_up.email)
    assert row.status is AccountStatus.FAILED and row.subscription_id == failed_sign_up.subscription_id
    assert row.failure_reason.startswith("cleanup failed: ") and "cancel subscription" in row.failure_reason


def test_without_a_deployment_the_error_names_the_three_ways_to_choose_one(aws, capsys, tmp_path):
    status, _ = run(environ={"DEV_STACK_FILE": str(tmp_path / "no-dev-stack.json")})

    assert status == 2
    error = capsys.readouterr().err
    assert error.startswith("error: no Tollgate deployment to act on.")
    assert "--function NAME" in error and "TOLLGATE_* variables" in error and "make dev" in error


def test_a_missing_tollgate_variable_is_named_with_how_to_get_them(aws, capsys):
    status, _ = run(environ={"TOLLGATE_ACCOUNTS_TABLE": "accounts"})

    assert status == 2
    error = capsys.readouterr().err
    assert "TOLLGATE_STRIPE_SECRET_ARN is not set" in error and "--stack" in error and "make dev" in error


def test_the_file_of_a_make_dev_that_died_is_ignored(aws, capsys, tmp_path, environment):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / "dev-stack.json"
    stale.write_text(json.dumps({"pid": int(finished.stdout), "environment": environment}))

    status, _ = run(environ={"DEV_STACK_FILE": str(stale)})

    assert status == 2 and "no Tollgate deployment" in capsys.readouterr().err


def test_help_shows_the_make_form_a_whole_description_and_how_to_choose_the_deployment(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run("--help", environ={})

    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert help_text.startswith('usage: make failed-accounts ARGS="[--clean] [--stack NAME | --function NAME]"\n')
    assert "python -m" not in help_text
    description = help_text.split("\n\n", 1)[1].split("\noptions:")[0]
    assert all(paragraph.rstrip().endswith(".") for paragraph in description.split("\n\n") if paragraph.strip())
    assert "--function NAME" in help_text and "TOLLGATE_* variables" in help_text
    assert (
        "a running make dev" in help_text
        and 'make failed-accounts ARGS="--function Tollgate-prod-register' in help_text
    )


@pytest.mark.parametrize(
    "unset, expected",
    [
        (("AWS_DEFAULT_REGION", "AWS_REGION"), "no AWS region: set AWS_DEFAULT_REGION"),
        (("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), "no AWS credentials: configure them"),
    ],
    ids=["no-region", "no-credentials"],
)
def test_without_aws_region_or_credentials_the_error_says_what_to_set(
    environment, monkeypatch, tmp_path, capsys, unset, expected
):
    for name in unset:
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    status, output = run(environ=environment)

    assert (status, output) == (2, "")
    assert capsys.readouterr().err.startswith(f"error: {expected}")


def test_an_abandoned_reservation_is_listed_and_cleaned_but_a_live_one_is_left_alone(environment, accounts):
    now = int(time.time())
    abandoned = Account(
        email=f"gone-{uuid.uuid4().hex[:6]}@example.com",
        status=AccountStatus.PENDING,
        attempt_id="crashed",
        lease_expires_at=now - 1,
        updated_at=now - 600,
    )
    live = Account(
        email=f"live-{uuid.uuid4().hex[:6]}@example.com",
        status=AccountStatus.PENDING,
        attempt_id="running",
        lease_expires_at=now + 60,
        updated_at=now,
    )
    accounts.create(abandoned)
    accounts.create(live)

    status, listing = run(environ=environment)
    clean_status, cleaning = run("--clean", environ=environment)

    assert status == clean_status == 0
    assert f"{abandoned.email}  pending 10m ago  [no ids]  abandoned mid-way (lease expired)" in listing
    assert live.email not in listing + cleaning
    assert accounts.get(abandoned.email) is None and accounts.get(live.email) is not None
    accounts.delete(accounts.get(live.email))


def test_an_orphaned_sign_up_key_is_listed_and_deleted_once_its_lease_ran_out(environment, aws):
    """What a sign-up leaves when its email was taken and deleting its key failed: a `tollgate-`
    key that no row records."""
    keys = ApiGatewayKeys(AwsClients().client("apigateway"), KEY_OWNER)
    orphan = keys.create_key(f"tollgate-{uuid.uuid4().hex[:8]}-attempt", "")
    other = keys.create_key("not-a-sign-up", "")
    after_the_lease = lambda: time.time() + RESERVATION_LEASE_SECONDS + 1  # noqa: E731

    assert orphan.id not in run(environ=environment)[1]  # younger than the lease: maybe still being recorded
    status, listing = run(environ=environment, clock=after_the_lease)
    clean_status, cleaning = run("--clean", environ=environment, clock=after_the_lease)

    assert status == clean_status == 0
    assert f"orphaned key {orphan.id}  tollgate-" in listing and "no account records it" in listing
    assert f"orphaned key {orphan.id}: deleted" in cleaning
    remaining = {key["id"] for key in boto3.client("apigateway").get_api_keys()["items"]}
    assert orphan.id not in remaining and other.id in remaining
