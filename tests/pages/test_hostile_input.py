"""Hostile values at the edge get a 400 or a 404, never a server error: integers past what
the database's id columns hold, NUL bytes (PostgreSQL refuses them in text), digits that
are not ASCII."""

import pytest

from tests.helpers import csrf_token

BIG = 2**31  # one past PostgreSQL's integer
HUGE = 2**63 - 1


@pytest.mark.parametrize(
    "path",
    [
        f"/designs/{BIG}",
        f"/designs/{HUGE}",
        f"/campaigns/{BIG}",
        f"/designs/by/{BIG}",
        f"/designs/{BIG}/artwork/thumb",
    ],
)
def test_an_id_past_the_database_range_is_not_found(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        f"page={HUGE}",
        f"page={BIG}",
        f"product={BIG}",
        f"product={HUGE}",
        "q=%00",
        "tag=%00",
        "q=cat%00dog",
        "product=%C2%B2",  # a superscript two
    ],
)
def test_gallery_filters_never_give_a_server_error(client, query):
    assert client.get(f"/designs/?{query}").status_code in (200, 400, 404)


@pytest.mark.parametrize("query", ["q=%00", "tag=%00"])
def test_a_nul_byte_in_the_query_is_a_bad_request(client, query):
    resp = client.get(f"/designs/?{query}")
    assert resp.status_code == 400
    assert "NUL" in resp.get_data(as_text=True)


def test_a_nul_byte_in_a_form_is_a_bad_request_and_changes_nothing(client, auth, make_user):
    make_user("member@example.com")
    token = csrf_token(client, "/account/login")
    resp = client.post(
        "/account/login",
        data={"email": "member@example.com\x00", "password": "x\x00", "csrf_token": token},
    )
    assert resp.status_code == 400


@pytest.mark.parametrize("subject_id", [str(BIG), "²", "٣"])
def test_the_audit_filter_takes_any_subject_id_text(client, auth, make_user, subject_id):
    make_user("boss@example.com", operator=True)
    auth.login("boss@example.com")
    assert client.get(f"/operator/audit?subject_id={subject_id}").status_code in (200, 400)
