"""The operator console: for operators only, its menu showing where you are."""

import re


def test_operator_console_is_for_operators_only(client, auth, make_user):
    assert client.get("/operator/").status_code == 302  # anonymous: log in first
    make_user("member@example.com")
    auth.login("member@example.com")
    assert client.get("/operator/").status_code == 403
    auth.logout()
    make_user("staff@example.com", operator=True)
    auth.login("staff@example.com")
    resp = client.get("/operator/")
    assert resp.status_code == 200
    assert "Operator console" in resp.get_data(as_text=True)


def test_the_console_menu_marks_the_section_you_are_in(client, auth, make_user):
    make_user("staff@example.com", operator=True)
    auth.login("staff@example.com")

    def current(path):
        html = client.get(path).get_data(as_text=True)
        return re.findall(
            r'aria-current="page">([^<]+)</a>', html.split('class="row operator-nav"')[1]
        )

    assert current("/operator/") == ["Overview"]
    assert current("/operator/designs/review") == ["Quality check"]
    assert current("/operator/settlements/") == ["Settlements"]
    assert current("/operator/audit") == ["Audit log"]
