"""Operators do not score designs: they see the scores before voting and decide the
shortlist, so the form is not offered to them and a posted score is refused."""

import sqlalchemy as sa

from designs.models import Vote
from marketplace.accounts.models import User
from marketplace.kernel.extensions import db
from tests.helpers import post


def test_an_operator_is_not_offered_the_score_form_and_a_posted_score_is_refused(
    client, auth, ctx, make_user, make_design
):
    design_id = make_design()
    make_user("olivia@example.com", operator=True)
    auth.login("olivia@example.com")
    page = client.get(f"/designs/{design_id}").get_data(as_text=True)
    assert f'action="/designs/{design_id}/vote"' not in page
    assert "Operators do not score designs" in page

    resp = post(client, f"/designs/{design_id}/vote", f"/designs/{design_id}", score=5)
    assert resp.status_code == 403
    assert "Operators do not score designs: scoring is the community" in resp.get_data(as_text=True)
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Vote)) == 0


def test_a_member_still_gets_the_score_form(client, auth, make_user, make_design):
    design_id = make_design()
    make_user("ben@example.com")
    auth.login("ben@example.com")
    page = client.get(f"/designs/{design_id}").get_data(as_text=True)
    assert f'action="/designs/{design_id}/vote"' in page
    assert "Operators do not score designs" not in page


def test_the_operator_reads_why_in_french(client, auth, ctx, make_user, make_design):
    design_id = make_design()
    operator_id = make_user("olivia@example.com", operator=True)
    with ctx():
        db.session.get(User, operator_id).locale = "fr"
        db.session.commit()
    auth.login("olivia@example.com")
    page = client.get(f"/designs/{design_id}").get_data(as_text=True)
    assert (
        "Les opérateurs ne notent pas les designs\u00a0: la notation revient à la communauté."
        in (page)
    )
