"""Every (state, event) pair of every state machine of the product: legal moves, repeats
(a no-op), illegal moves (IllegalTransition). The tables below are the specification, written
out independently of the models; each machine must be exactly its table.
"""

from __future__ import annotations

import itertools
import re

import pytest

from designs.models import DESIGN_MACHINE, DesignState
from marketplace.campaigns.models import (
    CAMPAIGN_MACHINE,
    PLEDGE_MACHINE,
    CampaignState,
    PledgeState,
)
from marketplace.kernel.models import MAIL_MACHINE, MailStatus, OutboxMail
from marketplace.kernel.statemachine import IllegalTransition
from marketplace.production.models import ORDER_MACHINE, RUN_MACHINE, OrderState, RunState
from marketplace.redesigns.models import CHALLENGE_MACHINE, ChallengeState
from payments.models import ATTEMPT_MACHINE, REFUND_MACHINE, AttemptStatus, RefundStatus
from tests.helpers import product_files

#: machine -> (its states, "source --event--> target" lines): the specification, in another
#: notation than the models' tables so that a copy-paste cannot make both wrong alike.
TABLES = {
    DESIGN_MACHINE: (
        DesignState,
        """
        draft --submit--> submitted
        submitted --approve--> voting
        submitted --decline--> declined
        declined --revise--> draft
        voting --close_voting--> scored
        scored --shortlist--> shortlisted
        scored --reject--> not_selected
        not_selected --shortlist--> shortlisted
        shortlisted --reject--> not_selected
        shortlisted --select--> selected
        selected --open_campaign--> campaign
        """,
    ),
    CAMPAIGN_MACHINE: (
        CampaignState,
        """
        scheduled --start--> live
        scheduled --cancel--> cancelled
        live --fund--> funded
        live --fail--> failed
        live --cancel--> cancelled
        funded --settle--> settling
        settling --settled--> settled
        settled --produce--> in_production
        settled --cancel--> cancelled
        in_production --ship--> shipped
        in_production --cancel--> cancelled
        shipped --deliver--> delivered
        """,
    ),
    PLEDGE_MACHINE: (
        PledgeState,
        """
        pending_card --card_saved--> active
        pending_card --cancel--> cancelled
        active --cancel--> cancelled
        active --charge--> charging
        charging --succeed--> collected
        charging --fail--> errored
        charging --require_action--> action_required
        errored --charge--> charging
        errored --drop--> dropped
        action_required --charge--> charging
        action_required --succeed--> collected
        action_required --fail--> errored
        action_required --drop--> dropped
        collected --refund--> refunded
        """,
    ),
    ATTEMPT_MACHINE: (
        AttemptStatus,
        """
        started --succeed--> succeeded
        started --decline--> declined
        started --require_action--> requires_action
        requires_action --succeed--> succeeded
        requires_action --decline--> declined
        requires_action --cancel--> canceled
        """,
    ),
    REFUND_MACHINE: (
        RefundStatus,
        """
        requested --succeed--> succeeded
        requested --fail--> failed
        """,
    ),
    RUN_MACHINE: (
        RunState,
        """
        planned --order--> ordered
        ordered --start--> in_production
        in_production --ship--> shipped
        shipped --deliver--> delivered
        planned --cancel--> cancelled
        ordered --cancel--> cancelled
        in_production --cancel--> cancelled
        """,
    ),
    ORDER_MACHINE: (
        OrderState,
        """
        pending --ship--> shipped
        shipped --deliver--> delivered
        pending --cancel--> cancelled
        shipped --cancel--> cancelled
        delivered --cancel--> cancelled
        """,
    ),
    CHALLENGE_MACHINE: (
        ChallengeState,
        """
        open --close--> closed
        open --adopt--> redesigned
        closed --adopt--> redesigned
        """,
    ),
    MAIL_MACHINE: (
        MailStatus,
        """
        pending --claim--> sending
        sending --sent--> sent
        sending --release--> pending
        sending --fail--> failed
        """,
    ),
}


def table(machine):
    states, text = TABLES[machine]
    moves = {}
    for line in text.strip().splitlines():
        source, event, target = re.fullmatch(r"\s*(\w+) --(\w+)--> (\w+)\s*", line).groups()
        moves[(states(source), event)] = states(target)
    return moves


def cases():
    for machine, (states, _) in TABLES.items():
        moves = table(machine)
        events = sorted({event for _, event in moves})
        # A repeated event finds the record already where the event leads: nothing to do.
        repeats = {(target, event) for (_, event), target in moves.items()}
        for state, event in itertools.product(list(states), events):
            if (state, event) in moves:
                expected = (moves[(state, event)], True)
            elif (state, event) in repeats:
                expected = (state, False)
            else:
                expected = None
            yield pytest.param(
                machine, state, event, expected, id=f"{machine.name}-{state.value}-{event}"
            )


@pytest.mark.parametrize(("machine", "state", "event", "expected"), list(cases()))
def test_transition_table(machine, state, event, expected):
    if expected is None:
        with pytest.raises(IllegalTransition, match=f"cannot {event} from {state.value}"):
            machine.next(state, event)
        assert not machine.allows(state, event)
    else:
        move = machine.next(state, event)
        assert (move.target, move.changed) == expected
        assert machine.allows(state, event)


@pytest.mark.parametrize("machine", list(TABLES), ids=lambda m: m.name)
def test_each_machine_is_exactly_its_table(machine):
    assert machine.moves == table(machine)


def test_every_machine_of_the_product_has_a_table():
    names = [
        line.split("=")[0].strip()
        for path in product_files().values()
        for line in path.read_text().splitlines()
        if line.rstrip().endswith(("= StateMachine(", "= StateMachine.from_table("))
    ]
    assert len(names) == len(TABLES), names


def test_an_unknown_event_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown event"):
        DESIGN_MACHINE.next(DesignState.DRAFT, "publish")
    with pytest.raises(ValueError, match="unknown event"):
        MAIL_MACHINE.sources("publish")


def test_apply_moves_the_record_and_tells_a_repeat():
    mail = OutboxMail(status=MailStatus.PENDING)
    assert MAIL_MACHINE.apply(mail, "claim") is True
    assert mail.status == MailStatus.SENDING
    assert MAIL_MACHINE.apply(mail, "claim") is False  # claimed already: a no-op
    MAIL_MACHINE.apply(mail, "sent")
    with pytest.raises(IllegalTransition):
        MAIL_MACHINE.apply(mail, "fail")
    assert mail.status == MailStatus.SENT


def test_bulk_updates_match_the_states_an_event_moves():
    assert ORDER_MACHINE.sources("cancel") == {
        OrderState.PENDING,
        OrderState.SHIPPED,
        OrderState.DELIVERED,
    }
    assert ORDER_MACHINE.target("deliver") == OrderState.DELIVERED
    assert MAIL_MACHINE.sources("release") == {MailStatus.SENDING}


def test_a_table_refuses_an_unknown_state_and_a_move_written_twice():
    from marketplace.kernel.statemachine import StateMachine

    with pytest.raises(ValueError, match="'drafted' is not a valid"):
        StateMachine.from_table("design", DesignState, "drafted  submit  submitted")
    with pytest.raises(ValueError, match="written twice"):
        StateMachine.from_table(
            "design", DesignState, "draft submit submitted\ndraft submit voting  # again"
        )
