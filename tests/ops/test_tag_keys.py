"""`make tag-keys` (ops/tag_keys.py) on moto: the keys an older Tollgate created carry no owner tag,
so the functions' IAM would refuse to disable them; the command tags every key the accounts table
records, once, and leaves another deployment's key alone."""

from __future__ import annotations

import uuid

import boto3

from ops.tag_keys import main
from testkit.commands import run_command
from testkit.lambda_events import KEY_OWNER
from tollgate import contract
from tollgate.adapters.api_gateway_keys import ApiGatewayKeys
from tollgate.adapters.dynamo_accounts import DynamoAccounts
from tollgate.domain.account import Account, AccountStatus


def recorded(accounts: DynamoAccounts, key_id: str, status: AccountStatus = AccountStatus.ACTIVE) -> str:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    accounts.create(Account(email=email, status=status, api_key_id=key_id))
    return email


def owner_of(key_id: str) -> str | None:
    return (boto3.client("apigateway").get_api_key(apiKey=key_id).get("tags") or {}).get(contract.API_KEY_OWNER_TAG)


def run(environment) -> tuple[int, str]:
    return run_command(main, [], environ=environment)


def test_keys_from_before_the_owner_tag_are_tagged_once_and_another_deployments_key_is_left_alone(
    aws, environment, accounts
):
    apigateway = boto3.client("apigateway")
    old_keys = [apigateway.create_api_key(name=f"tollgate-old-{n}", enabled=n == 0)["id"] for n in range(2)]
    for key_id, status in zip(old_keys, (AccountStatus.ACTIVE, AccountStatus.SUSPENDED), strict=True):
        recorded(accounts, key_id, status)
    new_key = ApiGatewayKeys(apigateway, KEY_OWNER).create_key("tollgate-new", "")
    recorded(accounts, new_key.id)
    foreign = apigateway.create_api_key(name="theirs", enabled=True, tags={contract.API_KEY_OWNER_TAG: "Other/prod"})
    recorded(accounts, foreign["id"])
    recorded(accounts, "gone1234")

    status, report = run(environment)

    assert [owner_of(key_id) for key_id in old_keys] == [KEY_OWNER, KEY_OWNER]
    assert owner_of(foreign["id"]) == "Other/prod"
    assert status == 1  # someone must look at the foreign key
    assert f"{old_keys[1]}" in report
    assert "5 key(s) recorded: 2 tagged, 1 already tagged, 1 tagged for another deployment, 1 gone." in report
    assert "Other/prod" in report
    assert {key.id for key in ApiGatewayKeys(apigateway, KEY_OWNER).keys_named("tollgate-")} >= {
        *old_keys,
        new_key.id,
    }  # this deployment's orphan search now sees them as its own

    again_status, again = run(environment)

    assert "5 key(s) recorded: 3 already tagged, 1 tagged for another deployment, 1 gone." in again
    assert again_status == 1 and owner_of(old_keys[0]) == KEY_OWNER


def test_it_says_which_deployment_it_needs(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DEV_STACK_FILE", str(tmp_path / "none.json"))

    status = main([], environ={"DEV_STACK_FILE": str(tmp_path / "none.json")})

    assert status == 2 and "--function NAME" in capsys.readouterr().err
