"""Designers' royalties: an append-only ledger in minor units.

A run books the designer's royalty on its net collected money: each paid pledge in the run
contributes its units × the campaign's royalty per unit (the royalty part of the price
breakdown, so the rate is set per campaign), which is exact integer arithmetic. Refunds and
cancelled runs add reversal entries; payouts add negative entries. Nothing is edited.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from marketplace.accounts.models import User
from marketplace.campaigns.models import Campaign, Pledge
from marketplace.kernel.audit import record_about
from marketplace.kernel.errors import ServiceError
from marketplace.kernel.extensions import db
from marketplace.kernel.locks import lock_row
from marketplace.kernel.text import counted

from .models import LedgerEntry, LedgerKind


class LedgerError(ServiceError):
    pass


def royalty_of(campaign: Campaign, units: int) -> int:
    return units * campaign.royalty_cents


def book_run(run, *, actor: User | None, campaign_id: int, units: int) -> LedgerEntry | None:
    """Receives ``run_launched``: the designer's royalty for the run's units."""
    operator = actor
    campaign = db.session.get(Campaign, campaign_id)
    amount = royalty_of(campaign, units)
    if amount <= 0:
        return None
    entry = LedgerEntry(
        designer_id=campaign.design.designer_id,
        kind=LedgerKind.ROYALTY,
        amount_cents=amount,
        currency=campaign.currency,
        campaign_id=campaign.id,
        run_id=run.id,
        note=(
            f"Royalty on production run #{run.id}: {counted(units, 'unit')} of "
            f"{campaign.product_name}"
        ),
        created_by_id=operator.id if operator else None,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def _remaining(entry: LedgerEntry) -> int:
    reversed_ = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_cents), 0)).where(
            LedgerEntry.reverses_id == entry.id
        )
    )
    return entry.amount_cents + reversed_


def _reverse(entry: LedgerEntry, amount: int, note: str, actor: User | None) -> LedgerEntry | None:
    amount = min(amount, _remaining(entry))
    if amount <= 0:
        return None
    reversal = LedgerEntry(
        designer_id=entry.designer_id,
        kind=LedgerKind.REVERSAL,
        amount_cents=-amount,
        currency=entry.currency,
        campaign_id=entry.campaign_id,
        run_id=entry.run_id,
        reverses_id=entry.id,
        note=note,
        created_by_id=actor.id if actor else None,
    )
    db.session.add(reversal)
    db.session.flush()
    return reversal


def _run_royalty(run_id: int) -> LedgerEntry | None:
    return db.session.scalar(
        sa.select(LedgerEntry).where(
            LedgerEntry.run_id == run_id, LedgerEntry.kind == LedgerKind.ROYALTY
        )
    )


def reverse_run(run_id: int, actor: User | None, reason: str) -> LedgerEntry | None:
    entry = _run_royalty(run_id)
    if entry is None:
        return None
    return _reverse(entry, entry.amount_cents, f"Run #{run_id} cancelled: {reason}", actor)


def reverse_pledge_share(pledge: Pledge, run_id: int, actor: User | None) -> LedgerEntry | None:
    """A paid pledge of run ``run_id`` refunded after the run booked the royalty: its share
    comes back."""
    entry = _run_royalty(run_id)
    if entry is None:
        return None
    campaign = db.session.get(Campaign, pledge.campaign_id)
    return _reverse(
        entry,
        royalty_of(campaign, pledge.quantity),
        f"Pledge #{pledge.id} refunded: its {counted(pledge.quantity, 'unit')} leave run #{run_id}",
        actor,
    )


_RUN_CANCELLED = re.compile(r"Run #\d+ cancelled: (?P<reason>.*)", re.DOTALL)
_PLEDGE_REFUNDED = re.compile(r"Pledge #(?P<pledge>\d+) refunded")


def describe(entry: LedgerEntry) -> str:
    """What a line of the account is, in the reader's language. The stored ``note`` is the
    English record, written once and never edited; this says the same from the entry's
    columns (and the operator's reason, as typed)."""
    campaign = db.session.get(Campaign, entry.campaign_id) if entry.campaign_id else None
    per_unit = campaign.royalty_cents if campaign else 0

    def units(amount: int) -> str:
        n = abs(amount) // per_unit if per_unit else 0
        return ngettext("%(num)d unit", "%(num)d units", n)

    if entry.kind == LedgerKind.ROYALTY and campaign is not None:
        return _(
            "Royalty on production run #%(run)s: %(units)s of %(product)s",
            run=entry.run_id,
            units=units(entry.amount_cents),
            product=campaign.product_name,
        )
    if entry.kind == LedgerKind.PAYOUT:
        return _("Payout: %(reference)s", reference=entry.payout_reference or "")
    if entry.kind == LedgerKind.REVERSAL:
        cancelled = _RUN_CANCELLED.match(entry.note)
        if cancelled:
            return _(
                "Run #%(run)s cancelled: %(reason)s",
                run=entry.run_id,
                reason=cancelled.group("reason"),
            )
        refunded = _PLEDGE_REFUNDED.match(entry.note)
        if refunded:
            return _(
                "Pledge #%(pledge)s refunded: its %(units)s leave run #%(run)s",
                pledge=refunded.group("pledge"),
                units=units(entry.amount_cents),
                run=entry.run_id,
            )
    return entry.note


def balances(designer_id: int) -> dict[str, int]:
    return {
        currency: total
        for currency, total in db.session.execute(
            sa.select(LedgerEntry.currency, sa.func.sum(LedgerEntry.amount_cents))
            .where(LedgerEntry.designer_id == designer_id)
            .group_by(LedgerEntry.currency)
        )
    }


def entries(designer_id: int, limit: int = 500) -> list[LedgerEntry]:
    return db.session.scalars(
        sa.select(LedgerEntry)
        .where(LedgerEntry.designer_id == designer_id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
    ).all()


def record_payout(
    designer_id: int, operator: User, amount_cents: int, currency: str, reference: str
) -> LedgerEntry:
    """Money sent to the designer (a bank transfer today, a Stripe transfer later)."""
    reference = " ".join((reference or "").split())
    if not 3 <= len(reference) <= 120:
        raise LedgerError("Give the transfer's reference (3 to 120 characters).")
    # The designer's row is the lock: two payouts at once cannot both pass the balance check.
    designer = lock_row(User, designer_id)
    if designer is None:
        raise LedgerError("No such designer.", 404)
    balance = balances(designer_id).get(currency, 0)
    if amount_cents <= 0:
        raise LedgerError("A payout is more than zero.")
    if amount_cents > balance:
        raise LedgerError(
            f"The balance is {balance / 100:.2f} {currency}: a payout cannot exceed it.", 409
        )
    entry = LedgerEntry(
        designer_id=designer_id,
        kind=LedgerKind.PAYOUT,
        amount_cents=-amount_cents,
        currency=currency,
        payout_reference=reference,
        note=f"Payout: {reference}",
        created_by_id=operator.id,
    )
    db.session.add(entry)
    db.session.flush()
    record_about(
        "ledger.payout",
        ("user", designer_id),
        actor=operator,
        amount_cents=amount_cents,
        currency=currency,
        reference=reference,
    )
    return entry
