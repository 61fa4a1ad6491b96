"""A designer's "My designs" page leads to their earnings."""


def test_my_designs_links_to_the_earnings_page(client, auth, make_user, make_design):
    designer = make_user("ada@example.com", designer=True)
    make_design(designer)
    auth.login("ada@example.com")
    page = client.get("/designs/mine").get_data(as_text=True)
    content = page.split('<main id="content"', 1)[1]
    assert 'href="/account/earnings"' in content
    assert "My earnings" in content
