"""The operators' side of production: launching runs, moving them through their steps,
shipping orders, the orders CSV and survey reminders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Response, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm

from marketplace.accounts.authz import operator_required
from marketplace.campaigns import queries as campaign_queries
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.forms import ButtonForm
from marketplace.kernel.i18n import N_
from marketplace.kernel.web import committed, form_on_page, form_page, or_404, posted
from marketplace.production import queries, services
from marketplace.production.forms import (
    LaunchRunForm,
    ReasonForm,
    ShipOneForm,
    StepForm,
    TrackingForm,
)
from marketplace.production.models import RunState

operator_bp = Blueprint("production_operator", __name__, url_prefix="/operator/production")

STEPS = {
    RunState.PLANNED: ("order", _l("Mark ordered from the manufacturer")),
    RunState.ORDERED: ("start", _l("Mark in production")),
    RunState.IN_PRODUCTION: ("ship", _l("Mark the run shipped")),
    RunState.SHIPPED: ("deliver", _l("Mark delivered")),
}


def queue_items() -> list[dict]:
    """For the console: settled campaigns without a run, runs under way, surveys waiting."""
    items = []
    for campaign_id, name, since in queries.campaigns_awaiting_run_rows():
        items.append(
            {
                "queue": _("Production runs to launch"),
                "title": name,
                "link": url_for("production_operator.launch", campaign_id=campaign_id),
                "since": since,
            }
        )
    for run in queries.runs_under_way():
        items.append(
            {
                "queue": _("Production runs under way"),
                "title": _(
                    "%(product)s: %(state)s",
                    product=run.campaign.product_name,
                    state=_(run.state.label),
                ),
                "link": url_for("production_operator.run", run_id=run.id),
                "since": run.created_at,
            }
        )
    for campaign_id, name, waiting, oldest in queries.unanswered_survey_counts():
        items.append(
            {
                "queue": _("Surveys outstanding"),
                "title": ngettext(
                    "%(product)s: %(num)d backer without an address",
                    "%(product)s: %(num)d backers without an address",
                    waiting,
                    product=name,
                ),
                "link": url_for("production_operator.index") + f"#surveys-{campaign_id}",
                "since": oldest,
            }
        )
    return items


@operator_bp.get("/")
@operator_required
def index():
    ready = queries.campaigns_awaiting_run()
    runs = queries.recent_runs()
    campaign_ids = {c.id for c in ready} | {r.campaign_id for r in runs}
    waiting = {cid: queries.unanswered_surveys(cid) for cid in campaign_ids}
    return render_template(
        "operator/production.html",
        ready=ready,
        runs=runs,
        waiting=waiting,
        remind_form=ButtonForm(formdata=None),
        now=utcnow(),
    )


@operator_bp.route("/campaigns/<int:campaign_id>/launch", methods=["GET", "POST"])
@operator_required
def launch(campaign_id: int):
    campaign = or_404(campaign_queries.campaign(campaign_id))
    form = LaunchRunForm()

    def launch_run():
        run = services.launch_run(
            campaign_id,
            current_user,
            manufacturer=form.manufacturer.data,
            reference=form.reference.data,
            expected_ship_date=form.expected_ship_date.data,
        )
        return committed(
            url_for("production_operator.run", run_id=run.id),
            _("Production run launched; backers are mailed."),
        )

    return form_page(
        form,
        launch_run,
        "operator/run_launch.html",
        campaign=campaign,
        quantities=services.planned_quantities(campaign),
        unanswered=len(queries.unanswered_surveys(campaign.id)),
    )


@operator_bp.get("/runs/<int:run_id>")
@operator_required
def run(run_id: int):
    return _run_page(run_id)


def _run_page(run_id: int, shown: FlaskForm | None = None, ship_order: int | None = None) -> str:
    """The run page; ``shown`` is a form posted from it and refused, shown again as typed
    (for the one order ``ship_order`` when it is a single order's tracking)."""
    run = or_404(queries.run(run_id))
    orders = queries.run_orders(run.id)
    surveys = queries.surveys_by_pledge([o.pledge_id for o in orders])
    forms = {
        "step_form": StepForm(formdata=None, event=STEPS.get(run.state, ("",))[0]),
        "tracking_form": TrackingForm(formdata=None),
        "ship_form": ShipOneForm(formdata=None),
        "cancel_form": ReasonForm(formdata=None),
    }
    refused_ship = None
    if isinstance(shown, ShipOneForm):
        refused_ship = (ship_order, shown)
    elif shown is not None:
        forms[{TrackingForm: "tracking_form", ReasonForm: "cancel_form"}[type(shown)]] = shown
    return render_template(
        "operator/run.html",
        run=run,
        orders=orders,
        surveys=surveys,
        step=STEPS.get(run.state),
        refused_ship=refused_ship,
        **forms,
    )


def _move(run_id: int, form: StepForm) -> str:
    run = services.move_run(run_id, current_user, form.event.data)
    return _("Run %(state)s; backers are mailed.", state=_(run.state.label))


def _ship_orders(run_id: int, form: TrackingForm) -> str:
    count = services.ship_orders(run_id, current_user, services.parse_tracking(form.lines.data))
    return ngettext(
        "%(num)d order marked shipped; its backer is mailed.",
        "%(num)d orders marked shipped; backers are mailed.",
        count,
    )


def _cancel(run_id: int, form: ReasonForm) -> str:
    services.cancel_run(run_id, current_user, form.reason.data)
    return _("Run cancelled: every paid pledge is being refunded.")


@dataclass(frozen=True)
class _RunChange:
    """One of the run page's forms: what it takes, what it does (returning what to say),
    and how it is said."""

    form: type[FlaskForm]
    #: Shown when the form is not valid (translated then); None for the step button (a 400).
    invalid: str | None
    change: Callable[[int, FlaskForm], str]
    category: str
    #: The field a refusal is shown on, when the page is shown again with the input kept.
    field: str | None = None


_RUN_CHANGES = {
    "move": _RunChange(StepForm, None, _move, "success"),
    "ship-orders": _RunChange(
        TrackingForm,
        N_("Give one order number and tracking reference per line."),
        _ship_orders,
        "success",
        "lines",
    ),
    "cancel": _RunChange(
        ReasonForm,
        N_("Give backers a public reason of at least 10 characters."),
        _cancel,
        "info",
        "reason",
    ),
}


@operator_bp.post("/runs/<int:run_id>/<any(move, 'ship-orders', cancel):action>")
@operator_required
def change_run(run_id: int, action: str):
    """Move a run to its next step, ship its orders from a pasted list, or cancel it. A
    malformed list or a refused change gives the run page again with what was typed."""
    change = _RUN_CHANGES[action]

    def apply():
        message = change.change(run_id, form)
        return committed(
            url_for("production_operator.run", run_id=run_id), message, change.category
        )

    if change.field is None:  # the step button: its refusal is the whole answer
        form = posted(change.form)
        return apply()
    form = change.form()
    return form_on_page(
        form,
        apply,
        lambda shown: _run_page(run_id, shown),
        invalid=_(change.invalid),
        message_on=getattr(form, change.field),
    )


@operator_bp.post("/runs/<int:run_id>/orders/<int:order_id>/ship")
@operator_required
def ship_one(run_id: int, order_id: int):
    form = ShipOneForm()

    def apply():
        services.ship_orders(run_id, current_user, [(order_id, form.tracking.data.strip())])
        return committed(
            url_for("production_operator.run", run_id=run_id) + f"#order-{order_id}",
            _("Order %(order)d marked shipped.", order=order_id),
            "success",
        )

    return form_on_page(
        form,
        apply,
        lambda shown: _run_page(run_id, shown, ship_order=order_id),
        invalid=_("Give the tracking reference (1 to 80 characters)."),
        message_on=form.tracking,
    )


@operator_bp.get("/runs/<int:run_id>/orders.csv")
@operator_required
def orders_csv(run_id: int):
    run = or_404(queries.run(run_id))
    return Response(
        services.orders_csv(queries.orders_to_make(run.id)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="run-{run.id}-orders.csv"',
            "Cache-Control": "no-store",
        },
    )


@operator_bp.post("/campaigns/<int:campaign_id>/remind-surveys")
@operator_required
def remind(campaign_id: int):
    posted(ButtonForm)
    or_404(campaign_queries.campaign(campaign_id))
    count = services.remind_surveys(campaign_id=campaign_id, actor=current_user)
    return committed(
        url_for("production_operator.index") + f"#surveys-{campaign_id}",
        ngettext(
            "Reminded %(num)d backer who has not answered.",
            "Reminded %(num)d backers who have not answered.",
            count,
        ),
        "success",
    )
