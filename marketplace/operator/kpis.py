"""The KPI dashboard: the seeds' five indicators (and money and production) for a period
against the one before, their targets, charts with their tables, and the CSV of each table."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from decimal import Decimal

from babel.dates import format_skeleton
from babel.numbers import format_compact_currency
from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_babel import format_decimal, format_percent, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.accounts.authz import operator_required
from marketplace.kernel.charts import Series, bar_chart, funnel_chart, line_chart
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.errors import ServiceError
from marketplace.kernel.forms import ButtonForm
from marketplace.kernel.i18n import N_, number
from marketplace.kernel.pagecache import cached_for_member, cached_fragment
from marketplace.kernel.web import committed, posted, refused
from marketplace.kpis import dashboard, rollup, targets
from marketplace.kpis.forms import TargetForm
from marketplace.kpis.indicators import FUNNEL_STEPS, MONEY_FIELDS, Period

operator_bp = Blueprint("kpis_operator", __name__, url_prefix="/operator")

PRESETS = dashboard.PRESETS
#: The period shown first, and the one the console's home judges targets on.
DEFAULT_DAYS = 30
#: Longest period accepted from-to (three years): the page stays one screen of figures.
MAX_DAYS = 1096

STEP_LABELS = {
    "submitted": N_("Submitted"),
    "approved": N_("Approved"),
    "shortlisted": N_("Shortlisted"),
    "selected": N_("Selected"),
    "campaign": N_("Campaign"),
    "funded": N_("Funded"),
    "delivered": N_("Delivered"),
}
MONEY_LABELS = {
    "pledged_cents": N_("Pledged"),
    "collected_cents": N_("Collected"),
    "refunded_cents": N_("Refunded"),
    "royalties_booked_cents": N_("Royalties booked"),
    "royalties_paid_cents": N_("Royalties paid"),
}
MONEY_DEFINITIONS = {
    "pledged_cents": N_(
        "Pledges made in the period with a saved card, shipping included, whatever became of "
        "them since."
    ),
    "collected_cents": N_("Charges that succeeded in the period."),
    "refunded_cents": N_("Refunds that went through in the period."),
    "royalties_booked_cents": N_(
        "Designers' royalties booked in the period, less the reversals booked in it."
    ),
    "royalties_paid_cents": N_("Royalties paid out to designers in the period."),
}
GROUPS = (
    ("participants", N_("Participants")),
    ("ideas", N_("Ideas generated")),
    ("conversion", N_("Idea conversion")),
    ("satisfaction", N_("Satisfaction")),
    ("loyalty", N_("Loyalty")),
    ("production", N_("Production")),
)
#: The seeds' five, at the top of the page.
HEADLINE = ("participants", "ideas", "conversion", "satisfaction", "nps", "returning")
#: The CSV of each table: its columns are the table's.
TABLES = ("series", "funnel", "cohorts", "indicators")


@operator_bp.app_template_filter("isodate")
def isodate(text: str) -> dt.date:
    """A day of a cached dashboard (kept as JSON, so as ISO text) back to a date."""
    return dt.date.fromisoformat(text)


class PeriodError(ValueError):
    pass


def _date(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PeriodError(_("%(what)s is not a date: write it as 2026-11-30.", what=what)) from None


def chosen_period(args, today: dt.date) -> tuple[Period, dt.date | None]:
    """The period the query string asks for: ``days`` (one of PRESETS) or ``from`` and
    ``to``; and ``pivot``, the day of the before/after comparison."""
    start, end = args.get("from", "").strip(), args.get("to", "").strip()
    if start or end:
        if not (start and end):
            raise PeriodError(_("Give both the first and the last day of the period."))
        period = Period(_date(start, _("The first day")), _date(end, _("The last day")))
        if period.start > period.end:
            raise PeriodError(_("The first day comes after the last one."))
        if period.end > today:
            raise PeriodError(_("The period cannot end after today."))
        if period.days > MAX_DAYS:
            raise PeriodError(_("A period is at most three years long."))
    else:
        days = args.get("days", str(DEFAULT_DAYS))
        if days not in {str(p) for p in PRESETS}:
            raise PeriodError(_("Choose one of the periods offered."))
        period = Period.last(int(days), today)
    pivot = args.get("pivot", "").strip()
    return period, (_date(pivot, _("The comparison day")) if pivot else None)


def shown(value, unit: str) -> str:
    """A figure written for the reader, or a dash when there is none."""
    if value is None:
        return "–"
    if unit == "percent":
        return format_percent(value / 100, "#,##0.0 %")
    if unit == "stars":
        return _("%(stars)s / 5", stars=format_decimal(value, "#,##0.0#"))
    if unit == "score":
        return number(round(value))
    return number(round(value, 1))


def shown_change(value) -> str:
    if value is None:
        return _("no previous figure")
    return format_percent(value / 100, "+#,##0.0 %;-#,##0.0 %")


def _rows(snapshot: dict, progress: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for i in dashboard.INDICATORS:
        out.setdefault(i.group, []).append(
            {
                "key": i.key,
                "label": i.label,
                "definition": i.definition,
                "value": shown(snapshot["current"]["values"][i.key], i.unit),
                "previous": shown(snapshot["before"]["values"][i.key], i.unit),
                "change": shown_change(snapshot["changes"][i.key]),
                "ratio": snapshot["current"]["ratios"].get(i.key),
                "target": progress.get(i.key),
                "unit": i.unit,
            }
        )
    return out


def target_text(p: targets.Progress) -> str:
    unit = dashboard.BY_KEY[p.indicator].unit
    if p.kind == "change":
        return _("%(change)s over the previous period", change=shown_change(p.value))
    return _("at least %(value)s", value=shown(p.value, unit))


def off_track() -> list[dict]:
    """The targets the default period misses, for the console's home."""
    if not targets.all_targets():
        return []
    snapshot = dashboard.cached(Period.last(DEFAULT_DAYS, utcnow().date()))
    out = []
    for p in targets.progress_all(snapshot):
        if p.on_track is False:
            indicator = dashboard.BY_KEY[p.indicator]
            out.append(
                {
                    "key": p.indicator,
                    "label": indicator.label,
                    "target": target_text(p),
                    "needs": shown(p.required, indicator.unit),
                    "is": shown(p.current, indicator.unit),
                }
            )
    return out


#: How long an operator's copy of the page is kept: a rollup or a target change gives the
#: page a new key before that; this bounds how late a survey banner in the layout shows.
PAGE_SECONDS = 300


@operator_bp.get("/kpis")
@operator_required
def kpis():
    today = utcnow().date()
    try:
        period, pivot = chosen_period(request.args, today)
    except PeriodError as exc:
        period = Period.last(DEFAULT_DAYS, today)
        return _page(period, None, TargetForm(formdata=None), error=str(exc)), 400
    version = dashboard.generation()
    # An operator reloading the dashboard gets their own copy of the page until the figures
    # or the targets change: its figures, charts and tables cost most of a rendering.
    parts = (
        "kpis",
        version,
        today,
        _template_digest("operator/kpis.html"),
        _template_digest(BODY_TEMPLATE),
    )
    return cached_for_member(
        parts,
        lambda: _page(period, pivot, TargetForm(formdata=None), version=version),
        PAGE_SECONDS,
    )


def _charts(snapshot: dict, period: Period) -> dict:
    """The dashboard's charts; each sits beside a table of the same figures."""
    now, before = snapshot["series"], snapshot["series_before"]
    labels = [
        format_skeleton("MMMd", dt.date.fromisoformat(b["start"]), locale=get_locale()) for b in now
    ]
    this, last = _("This period"), _("Previous period")
    step = _("day") if period.bucket_days == 1 else _("week")

    def lines(key: str) -> list[Series]:
        return [Series(this, [b[key] for b in now]), Series(last, [b[key] for b in before])]

    charts = {
        "participants": line_chart(
            lines("participants"),
            labels=labels,
            title=_("Participants per %(step)s", step=step),
            description=_(
                "Distinct accounts taking part each %(step)s, this period against the one "
                "before; the figures are in the table below.",
                step=step,
            ),
            id_prefix="chart-participants",
            value_format=number,
        ),
        "ideas": bar_chart(
            [b["ideas"] for b in now],
            labels=labels,
            title=_("Ideas generated per %(step)s", step=step),
            description=_(
                "Designs submitted each %(step)s, redesigns included; the figures are in the "
                "table below.",
                step=step,
            ),
            id_prefix="chart-ideas",
            value_format=number,
        ),
        "funnel": funnel_chart(
            [(_(STEP_LABELS[s["step"]]), s["count"]) for s in snapshot["current"]["funnel"]],
            title=_("Idea conversion funnel"),
            description=_(
                "The designs submitted in the period and how far they have gone; the figures "
                "are in the table beside it."
            ),
            id_prefix="chart-funnel",
            value_format=number,
        ),
        "satisfaction": line_chart(
            lines("average_rating"),
            labels=labels,
            title=_("Average rating per %(step)s", step=step),
            description=_(
                "Average stars of the ratings written each %(step)s (no point where nobody "
                "rated), this period against the one before; the figures are in the table "
                "below.",
                step=step,
            ),
            id_prefix="chart-satisfaction",
            value_format=lambda v: number(round(v, 1)),
        ),
        "loyalty": line_chart(
            lines("returning"),
            labels=labels,
            title=_("Returning participants per %(step)s", step=step),
            description=_(
                "Share of each %(step)s's participants who had taken part before it, this "
                "period against the one before; the figures are in the table below.",
                step=step,
            ),
            id_prefix="chart-loyalty",
            value_format=lambda v: format_percent(v / 100, "#,##0 %"),
        ),
    }
    currencies = sorted({c for b in now for c in b["money"]})
    if currencies:
        currency = currencies[0]

        def pledged(buckets):
            return [b["money"].get(currency, {}).get("pledged_cents", 0) for b in buckets]

        charts["money"] = line_chart(
            [Series(this, pledged(now)), Series(last, pledged(before))],
            labels=labels,
            title=_("Pledged per %(step)s (%(currency)s)", step=step, currency=currency),
            description=_(
                "Money pledged with a saved card each %(step)s, this period against the one "
                "before; the figures are in the table below.",
                step=step,
            ),
            id_prefix="chart-money",
            # Whole units, compact ("€1.2K"): the axis labels stay short.
            value_format=lambda cents: format_compact_currency(
                Decimal(int(cents)).scaleb(-2), currency, locale=get_locale()
            ),
        )
    return charts


#: How long a rendered dashboard is kept: the next rollup gives it another key anyway.
BODY_SECONDS = 3600
BODY_TEMPLATE = "operator/_kpis_body.html"
_digests: dict[str, str] = {}


def _template_digest(name: str) -> str:
    """A digest of a template's source: a deploy that changes the page does not meet the
    copies rendered by the one before. Computed once per process, unless templates reload."""
    if name not in _digests or current_app.jinja_env.auto_reload:
        source = current_app.jinja_env.loader.get_source(current_app.jinja_env, name)[0]
        _digests[name] = hashlib.sha256(source.encode()).hexdigest()
    return _digests[name]


def _page(
    period: Period,
    pivot,
    form: TargetForm,
    *,
    error: str | None = None,
    version: dashboard.Version | None = None,
) -> str:
    snapshot = dashboard.cached(period, pivot, version)
    aims = targets.all_targets()
    progress = {p.indicator: p for p in targets.progress_all(snapshot, aims)}
    rolled_at = snapshot["rolled_at"] and dt.datetime.fromisoformat(snapshot["rolled_at"])
    args = {"from": period.start.isoformat(), "to": period.end.isoformat()}
    if pivot:
        args["pivot"] = pivot.isoformat()

    def body() -> str:
        rows = _rows(snapshot, progress)
        return render_template(
            BODY_TEMPLATE,
            snapshot=snapshot,
            charts=_charts(snapshot, period),
            period=period,
            rows=rows,
            groups=GROUPS,
            csv_args=args,
            step_labels=STEP_LABELS,
            money_labels=MONEY_LABELS,
            money_definitions=MONEY_DEFINITIONS,
            money_fields=MONEY_FIELDS,
            shown=shown,
            target_text=target_text,
            flat={r["key"]: r for group in rows.values() for r in group},
            headline=HEADLINE,
            currencies=sorted({c for b in snapshot["series"] for c in b["money"]}),
        )

    # The figures, charts and tables are the same for every operator reading this rollup in
    # this language with these targets: rendering them (most of a request) happens once.
    parts = (
        "kpis",
        snapshot["rolled_at"],
        snapshot["period"],
        snapshot["pivot"] and snapshot["pivot"]["day"],
        str(get_locale()),
        sorted((t.indicator, t.kind, t.value) for t in aims),
        _template_digest(BODY_TEMPLATE),
    )
    return render_template(
        "operator/kpis.html",
        body=cached_fragment(parts, body, BODY_SECONDS),
        snapshot=snapshot,
        period=period,
        pivot=pivot,
        progress=progress,
        target_text=target_text,
        presets=PRESETS,
        preset=period.days if period.end == utcnow().date() else None,
        error=error,
        form=form,
        button=ButtonForm(formdata=None),
        rolled_at=rolled_at,
        csv_args=args,
        labels={i.key: i.label for i in dashboard.INDICATORS},
    )


@operator_bp.post("/kpis/targets")
@operator_required
def set_target():
    form = TargetForm()
    today = utcnow().date()
    try:
        period, pivot = chosen_period(request.args, today)
    except PeriodError:
        period, pivot = Period.last(DEFAULT_DAYS, today), None
    if form.validate_on_submit():
        hundredths = form.value.data * 100
        try:
            if hundredths != hundredths.to_integral_value():
                raise ServiceError(_("A target has at most two decimals."))
            targets.set_target(
                form.indicator.data, form.kind.data, int(hundredths), actor=current_user
            )
        except ServiceError as exc:
            status = refused(form.value, exc)
        else:
            label = dashboard.BY_KEY[form.indicator.data].label
            return committed(
                url_for("kpis_operator.kpis", **request.args),
                _("Target set for %(indicator)s.", indicator=label),
                at="targets",
            )
    else:
        status = 422
    return _page(period, pivot, form), status


@operator_bp.post("/kpis/targets/<indicator>/clear")
@operator_required
def clear_target(indicator: str):
    posted(ButtonForm)
    if indicator not in dashboard.BY_KEY:
        abort(404)
    targets.clear_target(indicator, actor=current_user)
    return committed(
        url_for("kpis_operator.kpis", **request.args),
        _("Target removed for %(indicator)s.", indicator=dashboard.BY_KEY[indicator].label),
        "info",
        at="targets",
    )


@operator_bp.post("/kpis/roll-up")
@operator_required
def roll_up():
    """Bring the figures up to now without waiting for the next ``flask cron`` round."""
    posted(ButtonForm)
    # Only the rollup: the page the operator goes back to computes its own period, and the
    # other presets wait for the next cron round rather than keep this request for seconds.
    rollup.roll_up()
    return committed(
        url_for("kpis_operator.kpis", **request.args), _("Figures brought up to date.")
    )


def _amount(cents: int) -> str:
    return str(Decimal(cents).scaleb(-2))


def _csv_rows(table: str, snapshot: dict) -> tuple[list[str], list[list]]:
    if table == "series":
        currencies = sorted({c for b in snapshot["series"] for c in b["money"]})
        money_columns = [(c, f) for c in currencies for f in MONEY_FIELDS]
        header = [
            "start",
            "end",
            "participants",
            "returning_percent",
            "ideas",
            "redesigns",
            "ratings",
            "average_rating",
            "nps",
            "units_made",
            *(f"{f.removesuffix('_cents')}_{c}" for c, f in money_columns),
        ]
        rows = [
            [
                b["start"],
                b["end"],
                b["participants"],
                "" if b["returning"] is None else f"{b['returning']:.1f}",
                b["ideas"],
                b["redesigns"],
                b["ratings"],
                "" if b["average_rating"] is None else f"{b['average_rating']:.2f}",
                "" if b["nps"] is None else f"{b['nps']:.1f}",
                b["units_made"],
                *(_amount(b["money"].get(c, {}).get(f, 0)) for c, f in money_columns),
            ]
            for b in snapshot["series"]
        ]
        return header, rows
    if table == "funnel":
        return ["step", "designs", "rate_of_step_before"], [
            [s["step"], s["count"], "" if s["rate"] is None else f"{s['rate']:.1f}"]
            for s in snapshot["current"]["funnel"]
        ]
    if table == "cohorts":
        return ["month", *FUNNEL_STEPS], [
            [c["month"][:7], *(s["count"] for s in c["steps"])] for c in snapshot["cohorts"]
        ]
    header = ["indicator", "current", "previous", "change_percent"]
    rows = []
    for key in dashboard.BY_KEY:
        values = (snapshot["current"]["values"][key], snapshot["before"]["values"][key])
        change = snapshot["changes"][key]
        rows.append(
            [
                key,
                *("" if v is None else round(v, 4) for v in values),
                "" if change is None else round(change, 2),
            ]
        )
    return header, rows


@operator_bp.get("/kpis.csv")
@operator_required
def kpis_csv():
    """One table of the dashboard (``table``: series, funnel, cohorts or indicators) for the
    same period, with the same columns: amounts in the currency's units, rates in percent."""
    table = request.args.get("table", "series")
    if table not in TABLES:
        abort(404)
    try:
        period, pivot = chosen_period(request.args, utcnow().date())
    except PeriodError as exc:
        abort(400, description=str(exc))
    header, rows = _csv_rows(table, dashboard.cached(period, pivot))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    name = f"kpis-{table}-{period.start}-{period.end}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
