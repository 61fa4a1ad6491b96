"""Design pages: gallery, design page, drafts, scoring, comments and designer pages. (The
operators' quality check, shortlist and moderation are in ``marketplace.operator.designs``.)"""

from __future__ import annotations

import contextlib
import datetime as dt

from babel.dates import format_timedelta
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import force_locale, get_locale, get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter import RateLimitExceeded
from flask_login import current_user, login_required
from wtforms import SelectChoice

from marketplace.accounts import services as accounts
from marketplace.accounts.authz import as_member, verified_required
from marketplace.kernel.errors import ServiceError
from marketplace.kernel.extensions import db, limiter
from marketplace.kernel.forms import ButtonForm
from marketplace.kernel.fragments import fill, read_along, shared_fragment, tagged_piece
from marketplace.kernel.i18n import DEFAULT_LANGUAGE, language_for
from marketplace.kernel.pagecache import cached_for_anonymous
from marketplace.kernel.signals import (
    collect,
    design_campaigns,
    design_sections,
    design_timeline,
    designer_sections,
    my_designs_sections,
    sections,
)
from marketplace.kernel.web import (
    arg_choice,
    arg_id,
    as_id,
    committed,
    form_page,
    or_404,
    page_number,
    posted,
    read_only,
    refused,
)

from . import images, profiles, queries, services, wording
from .forms import (
    CommentForm,
    DesignerProfileForm,
    DesignForm,
    NewDesignForm,
    SubmitDesignForm,
    SubmitDesignUnderNewTermsForm,
    artwork_hint,
)
from .models import (
    CLOSED_STATES,
    PUBLIC_STATES,
    Design,
    DesignState,
)

bp = Blueprint("designs", __name__, url_prefix="/designs")
scoring_bp = Blueprint("scoring", __name__)

#: The gallery shows every public design unless asked for one stage: a search finds a design
#: wherever it is in the pipeline.
STATUS_FILTERS = {
    "all": (_l("All"), PUBLIC_STATES),
    "voting": (_l("Open for scoring"), (DesignState.VOTING,)),
    "closed": (_l("Scoring closed"), CLOSED_STATES),
    "selected": (_l("Selected"), (DesignState.SELECTED, DesignState.CAMPAIGN)),
}
SORTS = {"newest": _l("Newest"), "closing": _l("Closing soon"), "top": _l("Top ranked")}

#: Scores and ranks, written with a fixed number of decimals for the locale ("0,42").
bp.add_app_template_filter(wording.fixed, "fixed")
#: A designer's picture, when they have none, and their links (templates/designs/_avatar.html).
bp.add_app_template_filter(profiles.initials, "initials")
bp.add_app_template_filter(profiles.link_label, "link_label")


def _decision(design: Design, timeline) -> str | None:
    """Why the design went no further, in the reader's language: the listed reason, then the
    operator's words or, for a decision taken when scoring closed, what it missed (the
    numbers recorded with the decision in the audit log)."""
    if not design.decision_reason:
        return None
    data = next(
        (e.data for e in reversed(timeline) if e.action in _TURN_DOWNS and e.actor_id is None),
        None,
    )
    return wording.decision_line(design.decision_reason, design.decision_message, data)


_TURN_DOWNS = ("design.decline", "design.reject")


def _declined(design: Design) -> str | None:
    """Why the design was declined, for its designer revising it (declined, or a draft again
    after the first revision)."""
    if design.state not in services.EDITABLE_STATES or not design.decision_reason:
        return None
    return wording.decision_line(design.decision_reason, design.decision_message, None)


def _visible_or_404(design: Design | None) -> Design:
    if design is None or not design.visible_to(current_user):
        abort(404)
    return design


def _campaigns_of(designs) -> dict:
    """{design id: its campaign}, from the campaigns package (built on this one): a design in
    the "campaign" state is shown with where its campaign really is."""
    found: dict = {}
    for part in collect(design_campaigns, list(designs)):
        found.update(part)
    return found


# --- browsing ---------------------------------------------------------------------------------


@bp.get("/")
@cached_for_anonymous
@read_only
def index():
    status = arg_choice("status", STATUS_FILTERS, "all")
    sort = arg_choice("sort", SORTS, "newest")
    tag = (request.args.get("tag") or "").strip().lower()
    product_id = arg_id("product")
    q = " ".join((request.args.get("q") or "").split())[:80]
    page = page_number()

    # A ranking of designs still being scored would tell voters what others think: "top"
    # applies to closed designs only.
    if sort == "top" and status == "voting":
        sort = "newest"
    filters = queries.GalleryFilters(STATUS_FILTERS[status][1], sort, tag, product_id, q)
    roles = current_user.is_authenticated and current_user.is_designer
    body, _facts = shared_fragment(
        None,
        [
            "gallery",
            status,
            sort,
            tag,
            product_id,
            q,
            page,
            roles,
            str(get_locale()),
            str(get_timezone()),
        ],
        lambda: _gallery(filters, page, status=status, sort=sort),
    )
    return render_template("designs/index.html", body=fill(body))


def _gallery(filters: queries.GalleryFilters, page: int, *, status: str, sort: str):
    """The gallery's page: the same for every reader (a designer gets a "Submit" button)."""
    designs, has_next = queries.gallery_page(filters, page)
    products = queries.products()
    tag, product_id, q = filters.tag, filters.product_id, filters.q
    html = render_template(
        "designs/_gallery.html",
        designs=designs,
        wider=[] if designs else _wider_searches(status, sort, tag, product_id, q, products),
        campaigns=_campaigns_of(designs),
        has_next=has_next,
        page=page,
        status=status,
        sort=sort,
        tag=tag,
        product_id=product_id,
        q=q,
        products=products,
        status_filters=STATUS_FILTERS,
        sorts=SORTS,
    )
    return html, {}


def _wider_searches(status, sort, tag, product_id, q, products) -> list[tuple[str, str]]:
    """(what, link) for each filter a search that found nothing can drop, each link keeping
    the others: the visitor widens one step at a time rather than starting over."""
    here = {
        "status": None if status == "all" else status,
        "sort": None if sort == "newest" else sort,
        "tag": tag or None,
        "product": product_id,
        "q": q or None,
    }

    def without(name: str) -> str:
        return url_for("designs.index", **{**here, name: None})

    wider = []
    if here["status"]:
        stage = STATUS_FILTERS[status][0]
        wider.append((_("Every stage, not only “%(stage)s”", stage=stage), without("status")))
    if tag:
        wider.append((_("Any tag, not only #%(tag)s", tag=tag), without("tag")))
    if product_id:
        name = next((p.name for p in products if p.id == product_id), None)
        what = _("Every product, not only %(product)s", product=name) if name else _("All products")
        wider.append((what, without("product")))
    if q:
        wider.append((_("Without the search “%(query)s”", query=q), without("q")))
    return wider


@bp.get("/<int:design_id>")
@cached_for_anonymous(tag="design:{design_id}")
@read_only
def show(design_id: int):
    """The design's page: what changes with each vote (the scores, the reader's own) is read
    on every request; the rest is shared by every reader with the same roles, rendered once
    and kept until the design, its comments or its campaign change (``forget_page``)."""
    now = queries.design_now(design_id, current_user)
    if now is None or not Design.visible(now.state, now.designer_id, current_user):
        abort(404)
    member = current_user.is_authenticated
    is_owner = member and current_user.id == now.designer_id
    is_operator = member and current_user.is_operator
    # The owner's submit form depends on the licence terms they accepted.
    owner_terms = is_owner and current_user.designer_terms_version
    roles = (member, member and current_user.is_verified, is_operator, is_owner, owner_terms)
    tag = f"design:{design_id}"
    scores_key = _scores_key(tag, now, is_owner, is_operator)
    body, facts = shared_fragment(
        tag,
        ["design-page", design_id, roles, str(get_locale()), str(get_timezone())],
        lambda: _shared_page(design_id, is_owner=is_owner, is_operator=is_operator),
    )
    scores = (
        tagged_piece(
            tag, scores_key, lambda: _scores(now, facts["variants"], is_owner, is_operator)
        )
        if scores_key
        else ""
    )
    return render_template("designs/show.html", title=now.title, body=fill(body, scores=scores))


def _shared_page(design_id: int, *, is_owner: bool, is_operator: bool) -> tuple[str, dict]:
    """The design's page but its scores section, for readers with these roles; and the
    variants, which the reader's vote form offers."""
    design = queries.design_page(design_id)
    comments = queries.comments_on(design.id, with_hidden=is_operator)
    # Packages built on designs (redesign challenges) add their own subjects' events.
    timeline = queries.design_timeline(
        design.id, [subject for found in collect(design_timeline, design) for subject in found]
    )
    member = current_user.is_authenticated
    html = render_template(
        "designs/_page.html",
        design=design,
        campaign=_campaigns_of([design]).get(design.id),
        comments=comments,
        timeline=timeline,
        decision=_decision(design, timeline),
        # Forms carry CSRF tokens, which live in a session: anonymous visitors get none, so
        # their pages stay the same for everyone (and cacheable).
        comment_form=CommentForm(formdata=None) if member else None,
        submit_form=_submit_form_class()(formdata=None) if is_owner else None,
        is_owner=is_owner,
        is_operator=is_operator,
        original=design.redesign_of if design.redesign_of_id else None,
        # Only a design that reached its campaign can be redesigned: no query for the others.
        redesigns=queries.public_redesigns_of(design.id)
        if design.state == DesignState.CAMPAIGN
        else [],
        sections=sections(design_sections, design),
    )
    return html, {"variants": [[v.id, v.label] for v in design.variants]}


def _scores_key(tag: str, now: queries.DesignNow, is_owner: bool, is_operator: bool):
    """The key of the scores section, which shows the counters and the reader's vote form:
    everything it shows is in it, so the section for the same counters, vote and reader's
    roles is rendered once for every process (many readers of a design see the same one),
    fetched with the page's shared piece. The variants it offers are the shared piece's,
    under the same tag: a change of them forgets both. None where there is no section."""
    if now.state.value in ("draft", "submitted", "declined"):
        return None  # no scores yet, or ever: no card saying nothing
    member = current_user.is_authenticated
    roles = (member, member and current_user.is_verified, is_operator, is_owner)
    return read_along(tag, ["design-scores", now, roles, str(get_locale()), str(get_timezone())])


def _scores(now: queries.DesignNow, variants, is_owner: bool, is_operator: bool) -> str:
    return render_template(
        "designs/_scores.html",
        design=now,
        vote=now.vote,
        show_scores=services.can_see_scores(now, current_user, now.vote),
        variants=variants,
        is_owner=is_owner,
        is_operator=is_operator,
        voting_open=now.state == DesignState.VOTING,
    )


@bp.get("/<int:design_id>/artwork/<size>")
def artwork(design_id: int, size: str):
    if size not in ("gallery", "detail", "original"):
        abort(404)
    design = _visible_or_404(queries.design(design_id))
    path = images.artwork_path(current_app.config["UPLOAD_DIR"], design.artwork_key, size)
    response = send_file(path, max_age=3600, conditional=True)
    if not design.is_public:
        response.cache_control.public = False
        response.cache_control.private = True
    return response


@bp.get("/by/<int:user_id>")
@cached_for_anonymous
def designer(user_id: int):
    person = or_404(queries.designer(user_id))
    designs = queries.public_designs_of(user_id)
    campaigns = _campaigns_of(designs)
    return render_template(
        "designs/designer.html",
        person=person,
        designs=designs,
        campaigns=campaigns,
        work=profiles.designer_work(designs, campaigns),
        is_self=current_user.is_authenticated and current_user.id == person.id,
        sections=sections(designer_sections, person),
    )


@bp.get("/by/<int:user_id>/avatar/<key>/<size>")
def avatar(user_id: int, key: str, size: str):
    """A designer's picture. Its key is in the address, and a new picture gets a new key, so
    browsers and proxies may keep it without asking again; an old address answers 404."""
    person = queries.designer(user_id)
    if person is None or person.avatar_key is None or key != person.avatar_key:
        abort(404)
    if size not in images.AVATAR_SIZES:
        abort(404)
    path = images.avatar_path(current_app.config["UPLOAD_DIR"], key, size)
    try:
        response = send_file(path, max_age=86400, conditional=True)
    except FileNotFoundError:
        abort(404)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


# --- designer's own work ----------------------------------------------------------------------


def _designer_or_redirect(then: str | None = None):
    if not current_user.is_designer:
        flash(_("Accept the designer terms first: then you can submit designs."), "info")
        return redirect(url_for("accounts.become_designer", next=then or url_for("designs.new")))
    return None


@bp.get("/mine")
@login_required
def mine():
    designs = queries.designs_of(current_user.id)
    return render_template(
        "designs/mine.html",
        designs=designs,
        campaigns=_campaigns_of(designs),
        sections=sections(my_designs_sections, current_user._get_current_object()),
    )


def _form_choices(form: DesignForm) -> None:
    form.product_id.choices = [SelectChoice(p.id, p.name) for p in queries.active_products()]
    form.artwork.description = artwork_hint(current_app.config["ARTWORK_MAX_PIXELS"])


def _fields(form: DesignForm) -> dict:
    return {
        "title": form.title.data,
        "description": form.description.data,
        "tags": form.tags.data,
        "product_id": form.product_id.data,
        "variants": form.variants.data,
        "what_changed": form.what_changed.data,
    }


#: Every artwork upload counts, refused ones too: decoding is the cost being limited. One
#: counter per account, shared by new designs and replaced artwork.
_UPLOAD_LIMIT = limiter.shared_limit(
    lambda: current_app.config["UPLOAD_LIMIT"],
    scope="artwork-upload",
    key_func=lambda: f"account:{current_user.id}",
)


def _stored(field, store):
    """Decode and store the file posted in ``field`` with ``store`` (``images.store_artwork``
    or ``store_avatar``); None when no file was chosen. A refused file raises a ServiceError
    with the reason and its status (413, 422, or 429 past the limit). The limit is checked
    here rather than by decorating the views, so that the form comes back with everything
    typed in it and the reason next to the file field."""
    upload = field.data
    if not upload or not getattr(upload, "filename", ""):
        return None
    try:
        with _UPLOAD_LIMIT:
            return store(
                upload.stream,
                current_app.config["UPLOAD_DIR"],
                max_pixels=current_app.config["ARTWORK_MAX_PIXELS"],
            )
    except RateLimitExceeded as exc:
        raise ServiceError(
            _(
                "You have reached the upload limit (%(amount)s per %(period)s per account). "
                "Please try again later.",
                amount=exc.limit.limit.amount,
                period=format_timedelta(
                    dt.timedelta(seconds=exc.limit.limit.get_expiry()),
                    threshold=1,
                    locale=get_locale() or DEFAULT_LANGUAGE,
                ),
            ),
            429,
        ) from exc
    except images.ArtworkError as exc:
        raise ServiceError(exc.message, exc.status) from exc


def _store_upload(form: DesignForm):
    """The uploaded artwork, stored, or the reason put on the form's file field."""
    try:
        stored = _stored(form.artwork, images.store_artwork)
    except ServiceError as exc:
        form.artwork.errors = [*form.artwork.errors, exc.message]
        return None, exc.status
    if stored is None:
        return None, None
    return services.Artwork(stored.key, stored.width, stored.height, stored.format), None


@contextlib.contextmanager
def _dropped_on_failure(key: str | None, delete):
    """A stored upload belongs to the transaction that records it: when that fails (a broken
    rule, a database error, anything), its files (``delete(upload_dir, key)``) go with it,
    so no orphan is left."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        if key is not None:
            delete(current_app.config["UPLOAD_DIR"], key)
        raise


def _artwork_dropped_on_failure(artwork):
    return _dropped_on_failure(artwork and artwork.key, images.delete_artwork)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    services.require_verified(current_user)
    # Back to this form afterwards, still linked to the design it would redesign.
    then = url_for("designs.new", redesign_of=arg_id("redesign_of"))
    if (redirect_response := _designer_or_redirect(then)) is not None:
        return redirect_response
    form = NewDesignForm()
    _form_choices(form)
    # A redesign: the link from the original (or its challenge) names it, the form keeps it.
    wanted = as_id(form.redesign_of.data) if form.is_submitted() else arg_id("redesign_of")
    original = services.redesignable(wanted)
    form.redesign_of.data = str(original.id) if original is not None else ""
    status = 200
    if form.validate_on_submit():
        artwork, status = _store_upload(form)
        if artwork is not None:
            try:
                with _artwork_dropped_on_failure(artwork):
                    design = services.create_draft(
                        current_user,
                        artwork,
                        redesign_of_id=original and original.id,
                        **_fields(form),
                    )
                    db.session.commit()
            except services.DesignError as exc:
                status = refused(form.title, exc)
            else:
                flash(_("Draft saved. Check it, then submit it for review."), "success")
                return redirect(url_for("designs.show", design_id=design.id))
    elif form.is_submitted():
        status = 422
    return (
        render_template("designs/form.html", form=form, design=None, original=original),
        status or 422,
    )


@bp.route("/<int:design_id>/edit", methods=["GET", "POST"])
@login_required
def edit(design_id: int):
    design = _visible_or_404(queries.design_to_edit(design_id))
    if design.designer_id != current_user.id:
        abort(403)
    services.require_verified(current_user)
    if design.state not in services.EDITABLE_STATES:
        flash(_("Only drafts can be edited."), "warning")
        return redirect(url_for("designs.show", design_id=design.id))
    # Not obj=design: its tags and variants are rows, which WTForms would show (and, for a
    # field missing from the post, keep) as the lists' reprs instead of these texts.
    form = DesignForm(
        data={
            "title": design.title,
            "description": design.description,
            "product_id": design.product_id,
            "tags": ", ".join(design.tag_names),
            "variants": ", ".join(v.label for v in design.variants),
            "what_changed": design.what_changed or "",
        }
    )
    form.is_redesign = design.redesign_of_id is not None
    _form_choices(form)
    status = 200
    if form.validate_on_submit():
        artwork, status = _store_upload(form)
        if status is None:
            try:
                with _artwork_dropped_on_failure(artwork):
                    old_key = services.update_draft(design, current_user, artwork, **_fields(form))
                    db.session.commit()
            except services.DesignError as exc:
                status = refused(form.title, exc)
            else:
                if old_key:
                    images.delete_artwork(current_app.config["UPLOAD_DIR"], old_key)
                flash(
                    _("Draft saved. Submit it again when ready.")
                    if design.decision_reason
                    else _("Draft saved."),
                    "success",
                )
                return redirect(url_for("designs.show", design_id=design.id))
    elif form.is_submitted():
        status = 422
    return (
        render_template(
            "designs/form.html",
            form=form,
            design=design,
            decision=_declined(design),
            original=design.redesign_of if design.redesign_of_id else None,
        ),
        status or 200,
    )


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def edit_profile():
    """The designer's public profile (picture, bio, links), edited from their account page.
    A refused picture or link shows the form again with what was typed, and changes nothing:
    a picture stored before the change fails is deleted with it."""
    if (redirect_response := _designer_or_redirect(url_for("designs.edit_profile"))) is not None:
        return redirect_response
    services.require_verified(current_user)
    links = [*current_user.links, "", "", ""]
    form = DesignerProfileForm(
        data={"bio": current_user.bio, "link1": links[0], "link2": links[1], "link3": links[2]}
    )
    form.avatar.description = artwork_hint(current_app.config["ARTWORK_MAX_PIXELS"])

    def change():
        # The fields were validated by then (the links by the rule the service applies), so
        # a refusal left for the service to raise is about the picture.
        new_key = _stored(form.avatar, images.store_avatar)
        with _dropped_on_failure(new_key, images.delete_avatar):
            replaced = None
            if new_key is not None or form.remove_avatar.data:
                replaced = accounts.replace_avatar(current_user, new_key)
            accounts.update_designer_profile(current_user, form.bio.data, form.links)
            response = committed(
                url_for("designs.designer", user_id=current_user.id), _("Your profile is saved.")
            )
        # Only once the new key is committed: until then the old picture is the one in use.
        if replaced is not None:
            images.delete_avatar(current_app.config["UPLOAD_DIR"], replaced)
        return response

    return form_page(form, change, "designs/profile_form.html", message_on=form.avatar)


def _submit_form_class() -> type[SubmitDesignForm]:
    """The licence is asked only of a designer whose accepted terms are not the current ones."""
    if current_user.designer_terms_version == current_app.config["DESIGNER_TERMS_VERSION"]:
        return SubmitDesignForm
    return SubmitDesignUnderNewTermsForm


@bp.post("/<int:design_id>/submit")
@login_required
def submit(design_id: int):
    design = _visible_or_404(queries.design(design_id))
    form = _submit_form_class()()
    if not form.validate_on_submit():
        flash(_("Accept the licence terms to submit your design."), "error")
        return redirect(url_for("designs.show", design_id=design.id)), 303
    services.submit(design, current_user, accept_new_terms="accept_terms" in form)
    return committed(
        url_for("designs.show", design_id=design.id),
        _("Submitted! Our team checks every design before it opens for scoring."),
        "success",
    )


# --- community --------------------------------------------------------------------------------


#: What the scoring form's radio buttons send.
_SCORES = {str(n): n for n in range(6)}


def _vote_input() -> tuple[int, bool, int | None]:
    """The scoring form's three fields: the score (0 to 5), "I'd buy it", and the variant
    ("0": any). Read by hand, not by a WTForms form: building one cost an eighth of the vote's
    CPU under load, for three fields; CSRFProtect checks the token of every POST, this one
    included, before the view runs. Anything else is a 422 and saves nothing."""
    form = request.form
    score = _SCORES.get(form.get("score", ""))
    variant = form.get("variant_id", "")
    variant_id = as_id(variant)
    if score is None or (variant_id is None and variant not in ("", "0")):
        abort(422, description=_("Choose a score from 0 to 5."))
    # A checkbox sends its value when ticked, nothing otherwise (WTForms' reading of it).
    would_buy = form.get("would_buy", "") not in ("", "false")
    return score, would_buy, variant_id


@bp.post("/<int:design_id>/vote")
def vote(design_id: int):
    def cast(voter):
        score, would_buy, variant_id = _vote_input()
        return services.cast_vote(
            design_id, voter, score, would_buy=would_buy, variant_id=variant_id
        )

    # The vote's statement checks who votes (as_member) and says their language: the route
    # guards, and Flask-Babel for the confirmation, would load the account, a round trip
    # more on the busiest write.
    voted = as_member(cast)
    with force_locale(language_for(voted.locale)):
        return committed(
            url_for("designs.show", design_id=design_id),
            _("Your score is saved. You can change it until scoring closes."),
            "success",
            at="scores",
        )


@bp.post("/<int:design_id>/comments")
@limiter.limit(lambda: current_app.config["COMMENT_LIMIT"], methods=["POST"])
@verified_required
def comment(design_id: int):
    design = _visible_or_404(queries.design(design_id))
    form = posted(CommentForm, _("A comment needs 1 to 1,000 characters."))
    created = services.add_comment(design, current_user, form.body.data)
    db.session.commit()
    return redirect(url_for("designs.show", design_id=design_id) + f"#comment-{created.id}")


@bp.post("/comments/<int:comment_id>/report")
@limiter.limit(lambda: current_app.config["REPORT_LIMIT"], methods=["POST"])
@verified_required
def report(comment_id: int):
    posted(ButtonForm)
    reported = services.report_comment(comment_id, current_user)
    return committed(
        url_for("designs.show", design_id=reported.design_id),
        _("Thank you: our team will look at this comment."),
        "info",
        # Beside the comment, unless the reports hid it: then atop the comments.
        at="comments" if reported.hidden else f"comment-{reported.id}",
    )


@scoring_bp.get("/about/scoring")
@cached_for_anonymous
def how_scoring_works():
    cfg = current_app.config
    return render_template(
        "designs/scoring.html",
        prior_weight=cfg["SCORING_PRIOR_WEIGHT"],
        buy_weight=cfg["SCORING_BUY_WEIGHT"],
        min_votes=cfg["SHORTLIST_MIN_VOTES"],
        min_rank=cfg["SHORTLIST_MIN_RANK"],
        voting_days=cfg["VOTING_DAYS"],
        prior=queries.prior_mean(),
    )
