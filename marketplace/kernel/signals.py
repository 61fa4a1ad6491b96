"""Named signals: how a package reacts to an event of a package built on it, and how packages
built on another add to what that one shows.

Imports point down the layers only (kernel, accounts, designs, campaigns, payments,
production, operator console). When a lower package must react to a higher one's event
(settlement starts when a campaign is funded, royalties are booked when a run is launched), or
a higher one adds lines to a lower one's page (production's survey lines on "My pledges"),
they meet here. Each signal below says what it carries, who sends it and who receives it.

Every receiver is connected in one place, ``marketplace.create_app`` (``_connect_signals``),
so one grep finds every listener. Events are sent inside the sender's transaction: receivers
flush and never commit, and if the sender rolls back, what they did goes with it. A receiver
that raises makes the sender's unit of work fail, as a direct call would.
"""

from __future__ import annotations

from typing import Any

from blinker import Namespace, Signal

_signals = Namespace()

# --- events -----------------------------------------------------------------------------------

campaign_funded = _signals.signal(
    "campaign-funded",
    doc="""A live campaign reached its goal at its deadline and is now funded.

    sender: the Campaign (locked, in the closing transaction).
    sent by: ``marketplace.campaigns.services.close_due``.
    received by: ``payments.charging.start_settlement`` (moves it to settling and enqueues
    the fan-out of charges after commit).
    """,
)

pledge_collected = _signals.signal(
    "pledge-collected",
    doc="""A pledge's money was collected: its charge succeeded.

    sender: the Pledge (locked, now collected).
    sent by: ``payments.charging.apply_outcome``.
    received by: ``marketplace.production.services.request_survey`` (asks where to ship).
    """,
)

pledge_refunded = _signals.signal(
    "pledge-refunded",
    doc="""A collected pledge was refunded at Stripe and is now refunded.

    sender: the Pledge (locked).
    kwargs: ``actor``, the operator's account or None for a job.
    sent by: ``payments.refunds.execute``.
    received by: ``marketplace.production.services.withdraw_refunded_order`` (its order leaves
    the run, and the run's royalty gives back the pledge's share).
    """,
)

run_launched = _signals.signal(
    "run-launched",
    doc="""An operator launched a production run from a settled campaign.

    sender: the ProductionRun (flushed, with its orders).
    kwargs: ``actor``, the operator; ``campaign_id``; ``units``, the units in the run.
    sent by: ``marketplace.production.services.launch_run``.
    received by: ``payments.ledger.book_run`` (the designer's royalty for those units).
    """,
)

run_cancelled = _signals.signal(
    "run-cancelled",
    doc="""An operator cancelled a production run; its orders are cancelled.

    sender: the ProductionRun (locked, now cancelled).
    kwargs: ``actor``, the operator; ``campaign_id``; ``reason``, public.
    sent by: ``marketplace.production.services.cancel_run``.
    received by: ``payments.refunds.cancel_for_run`` (the campaign is cancelled, every
    collected pledge refunded, the run's royalty reversed).
    """,
)

design_approved = _signals.signal(
    "design-approved",
    doc="""A submitted design passed the quality check: its scoring window is open.

    sender: the Design (locked, now voting).
    kwargs: ``actor``, the operator.
    sent by: ``designs.services.approve``.
    received by: ``marketplace.redesigns.services.invite_to_score`` (a redesign's invitations
    to the original's backers and raters).
    """,
)

design_selected = _signals.signal(
    "design-selected",
    doc="""An operator selected a shortlisted design for a campaign.

    sender: the Design (locked, now selected).
    kwargs: ``actor``, the operator.
    sent by: ``designs.services.select``.
    received by: ``marketplace.redesigns.services.adopt_redesign`` (a redesign selected is
    its challenge's outcome); ``marketplace.recognition.services.design_selected`` (thanks
    everyone who scored it, from a job after commit).
    """,
)

campaign_settled = _signals.signal(
    "campaign-settled",
    doc="""Every pledge of a funded campaign is paid, dropped or cancelled: its figures are final.

    sender: the Campaign (locked, now settled).
    sent by: ``payments.charging.finish_if_done``.
    received by: ``marketplace.recognition.services.campaign_settled`` (thanks every backer
    whose pledge was collected, from a job after commit).
    """,
)

worker_warming_up = _signals.signal(
    "worker-warming-up",
    doc="""A worker is about to take jobs and has not forked yet: load now what every job
    would otherwise load again in its own work horse.

    sender: the Flask app (inside its app context).
    sent by: ``marketplace.kernel.queues.warm_up``.
    received by: ``payments.gateway.preload`` (the Stripe library's lazy imports).
    """,
)

# --- contributions to pages a lower package renders -----------------------------------------
# Receivers return a value; ``collect`` gathers them.

page_banners = _signals.signal(
    "page-banners",
    doc="""Banners shown at the top of every page to a logged-in person.

    sender: the current account. Each receiver returns a list of (text, link).
    sent by: the template context of ``marketplace.create_app``.
    received by: ``marketplace.production.views.survey_banners`` (addresses still missing).
    """,
)

pledge_details = _signals.signal(
    "pledge-details",
    doc="""Lines about each pledge on "My pledges", from the packages that follow a paid pledge.

    sender: the list of the person's pledges. Each receiver returns
    ``{pledge_id: [(text, link label or None, link or None), ...]}``.
    sent by: ``marketplace.campaigns.views.mine``.
    received by: ``marketplace.production.views.pledge_details`` (survey and order lines),
    ``marketplace.reviews.views.pledge_details`` (rate a delivered order).
    """,
)

campaign_timeline = _signals.signal(
    "campaign-timeline",
    doc="""Other audit subjects whose events belong on a campaign's public timeline.

    sender: the Campaign. Each receiver returns a list of (subject_type, subject_id).
    sent by: ``marketplace.campaigns.views.show``.
    received by: ``marketplace.production.views.campaign_timeline`` (its production run).
    """,
)

design_campaigns = _signals.signal(
    "design-campaigns",
    doc="""The campaigns of designs in the "campaign" state, so that a design's badge and
    "what happens next" say where its campaign really is (live, funded, failed, delivered...).

    sender: the list of designs shown. Each receiver returns ``{design_id: Campaign}``.
    sent by: ``designs.views`` (the gallery, a designer's page, "My designs", a design's page).
    received by: ``marketplace.campaigns.views.design_campaigns``.
    """,
)


design_timeline = _signals.signal(
    "design-timeline",
    doc="""Other audit subjects whose events belong on a design's public timeline.

    sender: the Design. Each receiver returns a list of (subject_type, subject_id).
    sent by: ``designs.views.show``.
    received by: ``marketplace.redesigns.views.design_timeline`` (its redesign challenges).
    """,
)

my_designs_sections = _signals.signal(
    "my-designs-sections",
    doc="""Sections added to a designer's "My designs" page (a redesign challenge opened on
    one of their designs), above the list.

    sender: the designer's account. Each receiver returns a list of HTML fragments
    (``Markup``), each a whole ``<section>``.
    sent by: ``designs.views.mine``.
    received by: ``marketplace.redesigns.views.my_designs_sections``.
    """,
)

design_sections = _signals.signal(
    "design-sections",
    doc="""Sections a package built on designs adds to a design's public page (its ratings and
    reviews, a redesign challenge), below the timeline.

    sender: the Design. Each receiver returns a list of HTML fragments (``Markup``), each a
    whole ``<section>``, rendered by the receiver with its own template.
    sent by: ``designs.views.show``.
    received by: ``marketplace.reviews.views.design_sections`` (its ratings and reviews),
    ``marketplace.redesigns.views.design_sections`` (its redesign challenges).
    """,
)

campaign_sections = _signals.signal(
    "campaign-sections",
    doc="""Sections a package built on campaigns adds to a campaign's page, after the FAQ.

    sender: the Campaign. Each receiver returns a list of HTML fragments (``Markup``), each a
    whole ``<section>``.
    sent by: ``marketplace.campaigns.views.show``.
    received by: ``marketplace.reviews.views.campaign_sections`` (ratings and reviews).
    """,
)

designer_sections = _signals.signal(
    "designer-sections",
    doc="""Sections added to a designer's public profile (ratings of their products...), after
    their produced designs.

    sender: the designer's account. Each receiver returns a list of HTML fragments
    (``Markup``), each a whole ``<section>``.
    sent by: ``designs.views.designer``.
    received by: ``marketplace.reviews.views.designer_sections`` (their products' ratings) and
    ``marketplace.recognition.views.designer_sections`` (how many people scored and backed
    each design).
    """,
)


def collect(signal: Signal, sender: Any, **kwargs: Any) -> list[Any]:
    """Every receiver's answer, in the order they were connected."""
    return [value for _receiver, value in signal.send(sender, **kwargs)]


def sections(signal: Signal, sender: Any, **kwargs: Any) -> list[Any]:
    """The HTML sections every receiver of a ``*_sections`` signal adds, in order."""
    return [fragment for found in collect(signal, sender, **kwargs) for fragment in found]
