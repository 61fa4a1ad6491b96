"""A message flashed ``at`` an element is shown beside it, once; the others, and one whose
element the page does not show, at the top (marketplace/kernel/web.py)."""

from flask import flash, render_template_string

from marketplace.kernel.web import committed

#: What base.html does: the content first (which claims its messages), then the top.
PAGE = """\
{%- set body %}<section id="scores">{% for c, m in flashes_at('scores') %}[{{ c }}: {{ m }}]\
{% endfor %}</section>{% endset -%}
top{% for c, m in flashes_elsewhere() %}[{{ c }}: {{ m }}]{% endfor %} {{ body }}"""


def test_a_message_at_an_element_is_shown_beside_it_and_the_rest_at_the_top(app):
    with app.test_request_context("/", method="POST"):
        response = committed("/designs/7", "Score saved.", "success", at="scores")
        flash("Welcome back.", "info")
        committed("/designs/7", "Reported.", "info", at="comment-3")  # not on this page
        page = render_template_string(PAGE)
    assert response.status_code == 302
    assert response.headers["Location"] == "/designs/7#scores"
    assert page == (
        'top[info: Welcome back.][info: Reported.] <section id="scores">[success: Score saved.]'
        "</section>"
    )


def test_without_an_element_the_message_goes_to_the_top_and_the_url_is_kept(app):
    with app.test_request_context("/", method="POST"):
        response = committed("/designs/7", "Submitted!")
        page = render_template_string(PAGE)
    assert response.headers["Location"] == "/designs/7"
    assert page == 'top[success: Submitted!] <section id="scores"></section>'
