"""The account row's plan and billing parts as value objects (tollgate.domain.plan_state,
tollgate.domain.billing_cursor), and the row reading and writing them without losing a field."""

from __future__ import annotations

from tollgate.domain.account import Account, AccountStatus
from tollgate.domain.billing_cursor import BillingCursor
from tollgate.domain.plan_state import PLAN_HISTORY_SECONDS, PlanIntent, PlanState, PlanTerm

T0 = 1_800_000_000


def test_a_call_is_billed_on_the_plan_of_its_time_with_the_price_recorded_then() -> None:
    state = PlanState("free", None).changed_to("pro", "price_pro", T0, "account page")
    state = state.changed_to("free", None, T0 + 100, "account page")
    assert state.term_at(T0 - 1) == PlanTerm("free", None)
    assert state.term_at(T0 + 50) == PlanTerm("pro", "price_pro")
    assert state.term_at(T0 + 100) == PlanTerm("free", None)
    assert state.changes_since(T0 + 1) == 1


def test_changes_older_than_the_billing_window_go_and_the_oldest_kept_still_says_what_came_before() -> None:
    state = PlanState("free", None).changed_to("pro", "price_pro", T0, "checkout")
    state = state.changed_to("free", None, T0 + PLAN_HISTORY_SECONDS + 1, "account page")
    assert len(state.changes) == 1
    assert state.term_at(T0 + 10) == PlanTerm("pro", "price_pro")  # from the kept change's `from`


def test_a_change_clears_the_pending_plan_and_the_intent() -> None:
    state = PlanState("free").with_pending("pro").with_intent(PlanIntent("pro", "idem", T0, "account page"))
    changed = state.changed_to("pro", "price_pro", T0 + 1, "webhook")
    assert (changed.pending_plan_id, changed.intent) == (None, None)


def test_the_billing_cursor_never_moves_back_in_time_and_keeps_the_first_day_of_a_debt() -> None:
    cursor = BillingCursor().after_event("evt_2", T0 + 10).after_event("evt_1", T0)
    assert (cursor.last_event_id, cursor.last_event_at) == ("evt_1", T0 + 10)
    assert cursor.owing(T0).owing(T0 + 99).owes_since == T0
    assert cursor.owing(T0).owing(None).owes_since is None


def test_the_row_reads_and_writes_its_parts_without_losing_a_field() -> None:
    row = Account(
        "ada@example.com",
        AccountStatus.ACTIVE,
        plan_id="pro",
        price_id="price_pro",
        customer_id="cus_1",
        subscription_id="sub_1",
        last_billing_event_id="evt_1",
        last_billing_event_at=T0,
        owes_since=T0,
        last_checkout_session_id="cs_1",
        pending_plan_id="team",
    )
    assert row.with_plan_state(row.plan_state) == row
    assert row.with_billing(row.billing) == row
