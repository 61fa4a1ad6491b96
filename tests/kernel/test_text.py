from marketplace.kernel.text import counted


def test_counts_agree_with_their_noun():
    assert counted(1, "backer") == "1 backer"
    assert counted(0, "order") == "0 orders"
    assert counted(15, "backer") == "15 backers"
    assert counted(1200, "pledge") == "1,200 pledges"
    assert counted(2, "reply", "replies") == "2 replies"


def test_the_filter_is_available_to_templates(app):
    with app.app_context():
        render = app.jinja_env.from_string('{{ n|counted("pledge") }} paid').render
        assert render(n=1) == "1 pledge paid"
        assert render(n=3) == "3 pledges paid"
