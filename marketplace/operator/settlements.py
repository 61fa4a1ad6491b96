"""The operators' side of the money: settlement progress, closing a campaign now, refunds,
cancelling production, and designers' royalties and payouts."""

from __future__ import annotations

from flask import Blueprint, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from marketplace.accounts.authz import operator_required
from marketplace.campaigns import services as campaigns
from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel.extensions import db
from marketplace.kernel.forms import ButtonForm, ConfirmForm
from marketplace.kernel.i18n import money
from marketplace.kernel.web import committed, form_on_page, page_number
from payments import charging, ledger, queries, refunds
from payments.forms import PayoutForm, RefundForm

operator_bp = Blueprint("payments_operator", __name__, url_prefix="/operator/settlements")


def queue_counts() -> list[tuple[str, int, str]]:
    settling, failing = queries.settlement_counts()
    link = url_for("payments_operator.index")
    return [
        (_("settlements in progress"), settling, link),
        (_("pledges whose payment failed"), failing, link),
    ]


@operator_bp.get("/")
@operator_required
def index():
    rows = queries.followed_campaigns()
    return render_template(
        "operator/settlements.html",
        campaigns=rows,
        summaries=queries.summaries([c.id for c in rows]),
        PledgeState=PledgeState,
    )


@operator_bp.get("/<int:campaign_id>")
@operator_required
def campaign(campaign_id: int):
    return _settlement_page(campaign_id)


def _settlement_page(campaign_id: int, close_form: ConfirmForm | None = None, refused=None) -> str:
    """The settlement page; ``close_form`` is a refused "close now", shown again, and
    ``refused`` a refused refund form: ("refund", pledge id, form) or ("cancel", None, form)."""
    campaign = db.get_or_404(Campaign, campaign_id)
    if close_form is not None and campaign.state != CampaignState.LIVE:
        # Closed meanwhile: the form is no longer on the page, so its refusal is said on top.
        flash(" ".join(close_form.confirm.errors), "error")
    if refused and refused[0] == "cancel" and campaign.state not in _CANCELLABLE:
        flash(" ".join(refused[2].reason.errors), "error")
    if refused and refused[0] == "refund":
        pledge = db.session.get(Pledge, refused[1])
        if pledge.state != PledgeState.COLLECTED or queries.refunds_by_pledge([pledge.id]):
            flash(" ".join(refused[2].reason.errors), "error")  # no longer has a refund form
    page = page_number()
    state = request.args.get("state", "")
    chosen = PledgeState(state) if state in PledgeState.__members__.values() else None
    pledges, has_next = queries.pledges_page(campaign.id, chosen, page, 50)
    ids = [p.id for p in pledges]
    return render_template(
        "operator/settlement.html",
        campaign=campaign,
        summary=queries.summary(campaign.id),
        forecast=queries.forecast(campaign) if campaign.state == CampaignState.LIVE else None,
        fix_by=charging.fix_deadline(campaign) if campaign.closed_at else None,
        pledges=pledges,
        has_next=has_next,
        page=page,
        state=state,
        attempts=queries.attempts_by_pledge(ids),
        refunds=queries.refunds_by_pledge(ids),
        refund_form=RefundForm(formdata=None),
        button=ButtonForm(formdata=None),
        close_form=close_form or ConfirmForm(formdata=None),
        refused=refused,
        states=list(PledgeState),
        chosen=chosen,
    )


def _back_to_settlement(campaign_id: int, message: str, category: str) -> Response:
    """The settlement page's forms all end back on it, saying what was done."""
    return committed(
        url_for("payments_operator.campaign", campaign_id=campaign_id), message, category
    )


@operator_bp.post("/<int:campaign_id>/close")
@operator_required
def close_now(campaign_id: int):
    """Close a live campaign before its deadline, once the box saying that every card is
    charged now is ticked (without it, the page comes back saying so; nothing is closed)."""
    form = ConfirmForm()

    def close():
        state = campaigns.close_now(campaign_id, current_user)
        return _back_to_settlement(
            campaign_id, _("Campaign closed: %(state)s.", state=_(state.label)), "success"
        )

    return form_on_page(
        form,
        close,
        lambda shown: _settlement_page(campaign_id, shown),
        invalid=_("Tick the box to confirm: closing now charges every card at once."),
        message_on=form.confirm,
    )


@operator_bp.post("/pledges/<int:pledge_id>/refund")
@operator_required
def refund_pledge(pledge_id: int):
    campaign_id = db.get_or_404(Pledge, pledge_id).campaign_id
    form = RefundForm()

    def refund_it():
        refund = refunds.request_refund(pledge_id, current_user, form.reason.data)
        return _back_to_settlement(
            campaign_id,
            _(
                "Refund of pledge %(pledge)s requested (%(amount)s).",
                pledge=pledge_id,
                amount=money(refund.amount_cents, refund.currency),
            ),
            "info",
        )

    return form_on_page(
        form,
        refund_it,
        lambda shown: _settlement_page(campaign_id, refused=("refund", pledge_id, shown)),
        invalid=_("Give the backer a reason of at least 10 characters."),
        message_on=form.reason,
    )


@operator_bp.post("/<int:campaign_id>/cancel-production")
@operator_required
def cancel_production(campaign_id: int):
    form = RefundForm()

    def cancel():
        refunds.cancel_production(campaign_id, current_user, form.reason.data)
        return _back_to_settlement(
            campaign_id,
            _("Production cancelled: every collected pledge is being refunded."),
            "info",
        )

    return form_on_page(
        form,
        cancel,
        lambda shown: _settlement_page(campaign_id, refused=("cancel", None, shown)),
        invalid=_("Give backers a public reason of at least 10 characters."),
        message_on=form.reason,
    )


#: The states whose settlement page offers to cancel production (as its template does).
_CANCELLABLE = (CampaignState.SETTLED, CampaignState.IN_PRODUCTION)


# --- royalties --------------------------------------------------------------------------------

royalties_bp = Blueprint("royalties", __name__)


@royalties_bp.get("/operator/royalties/")
@operator_required
def royalties():
    return _royalties_page()


def _royalties_page(refused=None) -> str:
    """Designers' balances; ``refused`` is (designer id, form) of a payout refused, shown
    again as typed on that designer's row for its currency."""
    rows, designers = queries.royalty_balances()
    if refused and not any(
        r[0] == refused[0] and r[1] == (refused[1].currency.data or "").upper() and r[2] > 0
        for r in rows
    ):
        flash(" ".join(refused[1].form_errors), "error")
    return render_template(
        "operator/royalties.html",
        rows=rows,
        designers=designers,
        form=PayoutForm(formdata=None),
        refused=refused,
    )


@royalties_bp.post("/operator/royalties/<int:designer_id>/payout")
@operator_required
def payout(designer_id: int):
    form = PayoutForm()

    def pay():
        amount = campaigns.parse_money(form.amount.data)
        ledger.record_payout(
            designer_id, current_user, amount, form.currency.data.upper(), form.reference.data
        )
        return committed(
            url_for("royalties.royalties"),
            _("Payout recorded in the designer's ledger."),
            "success",
        )

    return form_on_page(
        form,
        pay,
        lambda shown: _royalties_page((designer_id, shown)),
        invalid=_("Give an amount, a currency and the transfer's reference."),
    )


def queue_items() -> list[dict]:
    """Settlements under way, with their failed payments."""
    items = []
    settling = queries.settling_campaigns()
    all_totals = queries.summaries([c.id for c in settling])
    for campaign in settling:
        totals = all_totals[campaign.id]
        failed = totals.count(PledgeState.ERRORED) + totals.count(PledgeState.ACTION_REQUIRED)
        items.append(
            {
                "queue": _("Settlements in progress"),
                "title": _(
                    "%(name)s: %(paid)s paid, %(failed)s failed, %(charging)s charging",
                    name=campaign.product_name,
                    paid=totals.count(PledgeState.COLLECTED),
                    failed=failed,
                    charging=totals.count(PledgeState.CHARGING),
                ),
                "link": url_for("payments_operator.campaign", campaign_id=campaign.id),
                "since": campaign.closed_at,
            }
        )
    return items
