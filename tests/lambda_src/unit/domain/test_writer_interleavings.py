"""Every pair of the account row's writers, interleaved at every read of the first (issue 18, "the root
cause"): the second writer runs start to end right after the first one's Nth read, so the first
decides on a row that is no longer the stored one. No update may be lost: a writer that returned
without error has its effect in the final row (unless the first writer, deciding the same thing
later and on the newer row, changed it again), and once the scheduled jobs have run, API Gateway and
Stripe hold what the row says (testkit.invariants). The writers: testkit.account_writers.

On fakes; the representative pairs on DynamoDB (moto) are in
tests/lambda_src/integration/domain/test_writer_interleavings_on_dynamodb.py.
"""

from __future__ import annotations

import pytest

from testkit.account_writers import WRITERS, Writer, interleave, reads_of
from testkit.fake_ports import FakeAccounts

CASES = [
    (first, second, read)
    for first in WRITERS
    for second in WRITERS
    for read in range(1, reads_of(first, FakeAccounts) + 1)
]


@pytest.mark.parametrize("first, second, read", CASES, ids=[f"{a.name} | {b.name} after read {n}" for a, b, n in CASES])
def test_no_update_is_lost_and_the_gateway_and_stripe_follow_the_row(first: Writer, second: Writer, read: int):
    interleave(first, second, read, FakeAccounts())
