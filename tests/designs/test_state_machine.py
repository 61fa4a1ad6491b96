"""Every (state, event) pair of the design machine: legal moves, repeats, illegal moves."""

import itertools

import pytest

from designs.models import DESIGN_MACHINE, DesignState
from marketplace.kernel.statemachine import IllegalTransition

S = DesignState
LEGAL = {
    (S.DRAFT, "submit"): S.SUBMITTED,
    (S.SUBMITTED, "approve"): S.VOTING,
    (S.SUBMITTED, "decline"): S.DECLINED,
    (S.VOTING, "close_voting"): S.SCORED,
    (S.SCORED, "shortlist"): S.SHORTLISTED,
    (S.SCORED, "reject"): S.NOT_SELECTED,
    (S.SHORTLISTED, "reject"): S.NOT_SELECTED,
    (S.SHORTLISTED, "select"): S.SELECTED,
    (S.SELECTED, "open_campaign"): S.CAMPAIGN,
}
EVENTS = sorted({event for _, event in LEGAL})
# A repeated event finds the design already where the event leads: nothing to do.
REPEATS = {(target, event) for (_, event), target in LEGAL.items()}


def expected(state, event):
    if (state, event) in LEGAL:
        return LEGAL[(state, event)], True
    if (state, event) in REPEATS:
        return state, False
    return IllegalTransition, None


@pytest.mark.parametrize(("state", "event"), list(itertools.product(list(S), EVENTS)))
def test_design_transition_table(state, event):
    target, changed = expected(state, event)
    if target is IllegalTransition:
        with pytest.raises(IllegalTransition, match=f"cannot {event} from {state.value}"):
            DESIGN_MACHINE.next(state, event)
    else:
        move = DESIGN_MACHINE.next(state, event)
        assert (move.target, move.changed) == (target, changed)


def test_the_machine_is_exactly_the_documented_table():
    assert DESIGN_MACHINE.moves == LEGAL


def test_an_unknown_event_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown event"):
        DESIGN_MACHINE.next(S.DRAFT, "publish")
