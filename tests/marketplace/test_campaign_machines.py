"""Every (state, event) pair of the campaign and pledge machines."""

import itertools

import pytest

from marketplace.campaigns.models import (
    CAMPAIGN_MACHINE,
    PLEDGE_MACHINE,
    CampaignState,
    PledgeState,
)
from marketplace.kernel.statemachine import IllegalTransition

C, P = CampaignState, PledgeState
CAMPAIGN_MOVES = {
    (C.SCHEDULED, "start"): C.LIVE,
    (C.SCHEDULED, "cancel"): C.CANCELLED,
    (C.LIVE, "fund"): C.FUNDED,
    (C.LIVE, "fail"): C.FAILED,
    (C.LIVE, "cancel"): C.CANCELLED,
    (C.FUNDED, "settle"): C.SETTLING,
    (C.SETTLING, "settled"): C.SETTLED,
    (C.SETTLED, "produce"): C.IN_PRODUCTION,
    (C.SETTLED, "cancel"): C.CANCELLED,
    (C.IN_PRODUCTION, "ship"): C.SHIPPED,
    (C.IN_PRODUCTION, "cancel"): C.CANCELLED,
}
PLEDGE_MOVES = {
    (P.PENDING_CARD, "card_saved"): P.ACTIVE,
    (P.PENDING_CARD, "cancel"): P.CANCELLED,
    (P.ACTIVE, "cancel"): P.CANCELLED,
    (P.ACTIVE, "charge"): P.CHARGING,
    (P.CHARGING, "succeed"): P.COLLECTED,
    (P.CHARGING, "fail"): P.ERRORED,
    (P.CHARGING, "require_action"): P.ACTION_REQUIRED,
    (P.ERRORED, "charge"): P.CHARGING,
    (P.ERRORED, "drop"): P.DROPPED,
    (P.ACTION_REQUIRED, "charge"): P.CHARGING,
    (P.ACTION_REQUIRED, "succeed"): P.COLLECTED,
    (P.ACTION_REQUIRED, "fail"): P.ERRORED,
    (P.ACTION_REQUIRED, "drop"): P.DROPPED,
    (P.COLLECTED, "refund"): P.REFUNDED,
}


def cases(machine, moves, states):
    events = sorted({e for _, e in moves})
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


@pytest.mark.parametrize(
    ("machine", "state", "event", "expected"),
    [*cases(CAMPAIGN_MACHINE, CAMPAIGN_MOVES, C), *cases(PLEDGE_MACHINE, PLEDGE_MOVES, P)],
)
def test_transition_table(machine, state, event, expected):
    if expected is None:
        with pytest.raises(IllegalTransition):
            machine.next(state, event)
    else:
        move = machine.next(state, event)
        assert (move.target, move.changed) == expected


def test_machines_are_exactly_the_documented_tables():
    assert CAMPAIGN_MACHINE.moves == CAMPAIGN_MOVES
    assert PLEDGE_MACHINE.moves == PLEDGE_MOVES
