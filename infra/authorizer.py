"""The key authorization feature: the keys table (the keys customers hold, as their SHA-256 only) and the
Lambda REQUEST authorizer every metered method runs before the usage plan (tollgate.handlers.authorizer),
with its result cache (docs/security.md, docs/scaling.md).

- The keys table (contract.KEYS_*) is the authorizer's one read per call; losing it would lock every
  customer out, so it is kept like the accounts table (RETAIN, deletion protection, point-in-time
  recovery), with a TTL that removes ended keys' items. Its name is in the shared environment; the
  features whose functions write key items (sign-up, billing lifecycle, customer accounts, operations)
  grant themselves what they do on it (`keys_table`).

- Identity source: the `x-api-key` header only, so clients keep sending what they always sent and
  the cache holds one answer per key. `Authorization: Bearer <key>` is not accepted as well: a REQUEST
  authorizer's identity sources are ALL required ("verifying all of the identity-related request
  parameters are present, not null and non-empty ... otherwise, it returns a 401 Unauthorized response
  without calling the Lambda function", API Gateway's CreateAuthorizer `identitySource`:
  https://docs.aws.amazon.com/apigateway/latest/api/API_CreateAuthorizer.html), and their values
  together are the cache key, so listing both headers would refuse every client that sends one, and
  leaving the cache key to one while reading the other would cache one credential's answer for another.
- Result cache: `authorizer_cache_seconds` (0 to 3600, at most one reconciler interval: infra/settings.py).
  A revoked key, a suspended or canceled account, keeps calling at most that long. The stage's cache is
  not flushed on "Revoke now" or a suspension: FlushStageAuthorizersCache flushes every key of the stage
  at once (every caller's next call pays a cache miss, and many misses at once add up to a burst on the
  keys table and the authorizer's concurrency), and it is an API Gateway call that can fail like the
  ones slice A removed from rotation; the TTL bounds the delay instead (docs/scaling.md).
- Least privilege: the function may GetItem on the keys table and nothing else; API Gateway may invoke
  it for this REST API's authorizers only (CDK's RequestAuthorizer grants that permission).
- The REST API's key source is AUTHORIZER (infra/gateway.py): the usage plan throttles and counts the key
  the authorizer returns as `usageIdentifierKey`, the account's one API Gateway key.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from constructs import Construct

from infra.functions import Functions
from infra.tables import on_demand_table
from tollgate import contract

# A cache miss is one GetItem (tollgate.handlers.authorizer gives up after its own few seconds); the
# timeout only bounds a stuck invocation. Memory buys CPU: the cold start is in front of a customer's call.
AUTHORIZER_TIMEOUT = Duration.seconds(10)
AUTHORIZER_MEMORY_MB = 512


class KeyAuthorizer(Construct):
    """The `keys_table`, the authorizer function (`function`) reading it, and the RequestAuthorizer
    (`authorizer`) the gateway's metered methods use."""

    def __init__(self, scope: Construct, construct_id: str, *, functions: Functions, cache_seconds: int) -> None:
        super().__init__(scope, construct_id)
        self.keys_table = on_demand_table(
            self,
            "KeysTable",
            partition_key=contract.KEYS_PARTITION_KEY,
            ttl_attribute=contract.KEYS_TTL_ATTRIBUTE,
            backups=True,
            keep_on_delete=True,
            deletion_protection=True,
        )
        functions.provide({contract.ENV_KEYS_TABLE: self.keys_table.table_name})
        # Not a business function: told its table only, so its cold start loads nothing else (bench/cold_start.py).
        self.function = functions.function(
            self,
            "Authorizer",
            handler=contract.HANDLER_AUTHORIZER,
            timeout=AUTHORIZER_TIMEOUT,
            memory_size=AUTHORIZER_MEMORY_MB,
            environment={contract.ENV_KEYS_TABLE: self.keys_table.table_name},
            description="Tollgate key authorizer: the presented key's hash -> its account and usage key, or a deny",
        )
        self.keys_table.grant(self.function.role, "dynamodb:GetItem")
        self.authorizer = apigw.RequestAuthorizer(
            self,
            "RequestAuthorizer",
            handler=self.function.function,
            identity_sources=[apigw.IdentitySource.header(contract.API_KEY_HEADER)],
            results_cache_ttl=Duration.seconds(cache_seconds),
        )
