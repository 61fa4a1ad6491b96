"""The operators' side of designs: the quality check, the shortlist, comment moderation and
the product catalogue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from designs import queries, services
from designs.forms import (
    DeclineForm,
    OperatorReasonForm,
    ProductForm,
    RejectForm,
)
from designs.models import Design, DesignState
from marketplace.accounts.authz import operator_required
from marketplace.kernel.extensions import db
from marketplace.kernel.forms import ButtonForm, ConfirmForm
from marketplace.kernel.i18n import N_
from marketplace.kernel.web import committed, form_on_page, form_page, posted

operator_bp = Blueprint("designs_operator", __name__, url_prefix="/operator/designs")


@dataclass(frozen=True)
class _Decision:
    """One of an operator's four decisions on a design: what it calls, what it needs, what
    it says (in English, translated when said), where it goes back to."""

    service: Callable[..., object]
    form: type[FlaskForm]
    #: Shown when the form is not valid; None for a plain button (a 400 then).
    invalid: str | None
    #: What is said (a text, or a function of the design decided on) and how.
    flash: tuple[str | Callable[[Design], str], str]
    back: str


_DECISIONS = {
    "approve": _Decision(
        services.approve,
        ButtonForm,
        None,
        (N_("Approved: scoring is open."), "success"),
        "designs_operator.review",
    ),
    "decline": _Decision(
        services.decline,
        DeclineForm,
        N_("Choose a reason from the list."),
        (N_("Declined; the designer sees the reason."), "info"),
        "designs_operator.review",
    ),
    "select": _Decision(
        services.select,
        ConfirmForm,
        N_("Tick the box to confirm the selection: it cannot be undone."),
        (N_("Selected: the design is ready for a campaign."), "success"),
        "designs_operator.shortlist",
    ),
    "reject": _Decision(
        services.reject,
        RejectForm,
        N_("Choose a reason from the list."),
        (N_("Marked not selected; the reason is public."), "info"),
        "designs_operator.shortlist",
    ),
    "close-scoring": _Decision(
        services.close_scoring_now,
        OperatorReasonForm,
        N_("Give a reason of 10 to 500 characters."),
        (lambda design: _closed_early(design), "info"),
        "designs_operator.review",
    ),
    "shortlist-anyway": _Decision(
        services.shortlist_anyway,
        OperatorReasonForm,
        N_("Give a reason of 10 to 500 characters."),
        (N_("Shortlisted, on your judgement; the designer is mailed."), "success"),
        "designs_operator.shortlist",
    ),
}


def _closed_early(design: Design) -> str:
    """What closing early gave, said to the operator who did it."""
    if design.state == DesignState.SHORTLISTED:
        return _("Scoring closed: the design passed the bar and is on the shortlist.")
    if services.missed_only_votes(design):
        return _(
            "Scoring closed: its score meets the bar, but it has %(votes)s of the %(needed)s "
            "votes the shortlist needs, so it is not selected. You can still shortlist it with "
            "a reason on the shortlist page.",
            votes=design.vote_count,
            needed=current_app.config["SHORTLIST_MIN_VOTES"],
        )
    return _(
        "Scoring closed: the design is not selected (%(why)s).", why=_(design.decision_reason_text)
    )


@operator_bp.post(
    "/<int:design_id>/<any(approve, decline, select, reject, 'close-scoring', "
    "'shortlist-anyway'):action>"
)
@operator_required
def decide(design_id: int, action: str):
    """Approve or decline a submitted design; select (once confirmed) or reject a shortlisted
    one. Declining and rejecting take a reason from the list, which the designer and the
    public read. A refused decision gives the page again, with what was typed, on the
    design's row."""
    decision = _DECISIONS[action]
    form = decision.form()

    def decide_now():
        if "message" in form:
            reason = (form.reason.data, form.message.data or "")
        else:
            reason = (form.reason.data,) if "reason" in form else ()
        design = decision.service(design_id, current_user, *reason)
        message, category = decision.flash
        said = message(design) if callable(message) else _(message)
        return committed(url_for(decision.back), said, category)

    if decision.invalid is None:  # a bare button
        form = posted(decision.form)
        return decide_now()
    pages = {"designs_operator.review": _review_page, "designs_operator.shortlist": _shortlist_page}
    return form_on_page(
        form,
        decide_now,
        lambda shown: pages[decision.back](refused=(design_id, action, shown)),
        invalid=_(decision.invalid),
        message_on=form.reason if "reason" in form else form.confirm,
    )


@operator_bp.get("/review")
@operator_required
def review():
    return _review_page()


def _review_page(refused=None) -> str:
    """The quality check; ``refused`` is (design id, action, form) of a decision refused,
    shown again on that design."""
    designs = queries.submitted_for_review()
    scoring = queries.open_for_scoring()
    _said_when_gone(refused, designs + scoring)
    return render_template(
        "operator/designs_review.html",
        designs=designs,
        scoring=scoring,
        close_form=OperatorReasonForm(formdata=None),
        button=ButtonForm(formdata=None),
        decline_form=DeclineForm(formdata=None),
        refused=refused,
    )


@operator_bp.get("/shortlist")
@operator_required
def shortlist():
    return _shortlist_page()


def _shortlist_page(refused=None) -> str:
    designs = queries.shortlist()
    short = queries.short_of_votes(current_app.config["SHORTLIST_MIN_RANK"])
    _said_when_gone(refused, designs + short)
    ids = [d.id for d in designs]
    return render_template(
        "operator/designs_shortlist.html",
        designs=designs,
        comment_counts=queries.comment_counts(ids),
        demand=queries.variant_demand(ids),
        button=ButtonForm(formdata=None),
        select_form=ConfirmForm(formdata=None),
        reject_form=RejectForm(formdata=None),
        short_of_votes=short,
        anyway_form=OperatorReasonForm(formdata=None),
        min_votes=current_app.config["SHORTLIST_MIN_VOTES"],
        refused=refused,
    )


def _said_when_gone(refused, designs) -> None:
    """A decision refused on a design no longer listed (another operator decided first) has
    no row to be shown on: it is said at the top of the page instead."""
    if refused and all(d.id != refused[0] for d in designs):
        design_id, _action, form = refused
        for errors in form.errors.values():
            flash(" ".join(errors), "error")


@operator_bp.get("/comments")
@operator_required
def comments():
    return render_template(
        "operator/comments.html",
        comments=queries.flagged_comments(),
        reports_to_hide=services.REPORTS_TO_HIDE,
        button=ButtonForm(formdata=None),
    )


@operator_bp.post("/comments/<int:comment_id>/<any(hide, restore):action>")
@operator_required
def moderate(comment_id: int, action: str):
    posted(ButtonForm)
    services.moderate(comment_id, current_user, hide=action == "hide")
    return committed(
        url_for("designs_operator.comments"),
        _("Comment hidden.") if action == "hide" else _("Comment restored."),
        "info",
    )


@operator_bp.route("/products", methods=["GET", "POST"])
@operator_required
def products():
    form = ProductForm()

    def add_product():
        product = services.add_product(form.name.data, form.variant_hint.data)
        return committed(
            url_for("designs_operator.products"),
            _("Product “%(name)s” added.", name=product.name),
        )

    return form_page(
        form,
        add_product,
        "operator/products.html",
        message_on=form.name,
        products=queries.products(),
        button=ButtonForm(formdata=None),
    )


@operator_bp.post("/products/<int:product_id>/toggle")
@operator_required
def toggle_product(product_id: int):
    posted(ButtonForm)
    services.toggle_product(product_id)
    db.session.commit()
    return redirect(url_for("designs_operator.products"))


def queue_counts() -> list[tuple[str, int, str]]:
    """For the console's front page: what waits in each design queue."""
    counts = queries.queue_counts()
    return [
        (_("to check"), counts.to_check, url_for("designs_operator.review")),
        (_("on the shortlist"), counts.shortlisted, url_for("designs_operator.shortlist")),
        (
            _("comments to review"),
            counts.comments_to_review,
            url_for("designs_operator.comments"),
        ),
    ]


def queue_items() -> list[dict]:
    """For the console's work queues: designs waiting for a decision, oldest first."""
    checks = [
        {
            "queue": _("Quality check"),
            "title": design.title,
            "link": url_for("designs_operator.review") + f"#design-{design.id}",
            "since": design.submitted_at,
        }
        for design in queries.awaiting_check()
    ]
    decisions = [
        {
            "queue": _("Shortlist decisions"),
            "title": design.title,
            "link": url_for("designs.show", design_id=design.id),
            "since": design.voting_closes_at,
        }
        for design in queries.awaiting_decision()
    ]
    return checks + decisions
