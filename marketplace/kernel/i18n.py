"""French and English: which language and time zone a page or a mail is in, and how dates,
times and money are written in it (Flask-Babel, with Babel's locale data).

The language of a page: the account's saved choice, else the one picked with the switcher
(kept in the session), else the browser's ``Accept-Language``, else English. Its time zone:
the account's, else the one the browser suggested, else ``DEFAULT_TIME_ZONE`` (Paris). A mail
is written in its recipient's language and time zone, whoever's request sends it. Times are
stored in UTC and converted only when written out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal

import pytz
from babel import Locale
from babel.dates import (
    format_date,
    format_time,
    format_timedelta,
    get_datetime_format,
    get_timezone_location,
)
from babel.numbers import format_currency, format_decimal
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel, force_locale, get_locale, get_timezone, gettext
from flask_login import current_user

from .dbtypes import utcnow

#: The languages the product is written in, by code, each named in itself (for the switcher).
LANGUAGES = {"en": "English", "fr": "Français"}
DEFAULT_LANGUAGE = "en"

babel = Babel()


def N_(message: str) -> str:
    """Marks a fixed text that is stored (an audit reason, a state's label) or defined before
    any request, for the catalogue, without translating it here: it is translated where it
    is shown, with ``_(text)`` (``{{ _(text) }}`` in a template)."""
    return message


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["DEFAULT_TIME_ZONE"]
    babel.init_app(app, locale_selector=select_language, timezone_selector=select_time_zone)
    app.add_template_filter(money)
    app.add_template_filter(number)
    app.add_template_filter(when, "datetime")
    app.add_template_filter(day, "date")
    app.add_template_filter(age)
    app.add_template_filter(month)
    app.add_template_filter(country_name, "country")
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, current_language=current_language)


def _account():
    if not has_request_context():
        return None
    user = current_user
    return user if user and user.is_authenticated else None


def language_of_request() -> str:
    """What a visitor without a choice of their own gets: the browser's best language."""
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE)


def select_language() -> str:
    account = _account()
    return language_for(account.locale if account is not None else None)


def language_for(setting: str | None) -> str:
    """The language of a page for a member whose account's choice is ``setting`` (None for
    no choice, as for a visitor): for a request that knows it without loading the account."""
    if setting in LANGUAGES:
        return setting
    if not has_request_context():
        return DEFAULT_LANGUAGE
    chosen = session.get("language")
    return chosen if chosen in LANGUAGES else language_of_request()


def select_time_zone() -> str:
    account = _account()
    if account is not None and is_time_zone(account.time_zone):
        return account.time_zone
    if has_request_context() and is_time_zone(session.get("time_zone")):
        return session["time_zone"]
    return current_app.config["DEFAULT_TIME_ZONE"]


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def is_time_zone(name) -> bool:
    return isinstance(name, str) and name in pytz.all_timezones_set


def time_zone_choices() -> list[str]:
    return list(pytz.common_timezones)


@contextlib.contextmanager
def in_terms_of(person):
    """Write in ``person``'s language and time zone (a mail to them), then go back to the
    request's. ``person`` is an account, or None for a bare address (the defaults)."""
    language = getattr(person, "locale", None)
    zone = getattr(person, "time_zone", None)
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    zone = zone if is_time_zone(zone) else current_app.config["DEFAULT_TIME_ZONE"]
    with force_locale(language):
        from flask_babel import _get_current_context

        ctx = _get_current_context()
        previous = getattr(ctx, "babel_tzinfo", None) if ctx is not None else None
        if ctx is not None:
            ctx.babel_tzinfo = pytz.timezone(zone)
        try:
            yield
        finally:
            if ctx is not None:
                if previous is None:
                    ctx.__dict__.pop("babel_tzinfo", None)
                else:
                    ctx.babel_tzinfo = previous


# --- writing numbers, money and times ----------------------------------------------------------


def _locale():
    return get_locale() or DEFAULT_LANGUAGE


def money(cents: int, currency: str = "EUR") -> str:
    """Integer minor units, written for the locale: ``1 234,50 €`` in French, ``€1,234.50`` in
    English; negative for ledger reversals and payouts."""
    amount = Decimal(cents).scaleb(-2)
    return format_currency(amount, currency.upper(), locale=_locale())


def number(value: int | float) -> str:
    return format_decimal(value, locale=_locale())


def _local(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:  # stored times are UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(get_timezone())


def zone_label() -> str:
    """The time zone the page's times are in, for people: "Paris", "New York", "UTC"."""
    zone = get_timezone()
    if zone.zone == "UTC":
        return "UTC"
    return get_timezone_location(zone, locale=_locale(), return_city=True)


def when(value: dt.datetime | None, zone: bool = True) -> str:
    """A moment in the reader's time zone, which it names: "1 déc. 2026, 12:15 (Paris)"."""
    if value is None:
        return ""
    local, locale = _local(value), _locale()
    # The locale's own way of joining a medium date and a short time ("{1}, {0}").
    text = (
        str(get_datetime_format("medium", locale=locale))
        .replace("{1}", format_date(local, "medium", locale=locale))
        .replace("{0}", format_time(local, "short", locale=locale))
    )
    return gettext("%(time)s (%(zone)s)", time=text, zone=zone_label()) if zone else text


def day(value: dt.date | dt.datetime | None, format: str = "medium") -> str:
    """A date: "1 déc. 2026" / "Dec 1, 2026" (a moment is first moved to the reader's zone)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = _local(value).date()
    return format_date(value, format=format, locale=_locale())


def age(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """How long something has waited (or has left): "3 days", "5 heures"."""
    if value is None:
        return ""
    delta = abs((now or utcnow()) - value)
    if delta < dt.timedelta(minutes=1):
        return gettext("moments")
    return format_timedelta(delta, threshold=1.0, locale=_locale())


def month(value: dt.date | None) -> str:
    """A month and its year, "March 2027" / "mars 2027": an estimated delivery."""
    if value is None:
        return ""
    return format_date(value, format="LLLL y", locale=_locale())


def country_name(code: str) -> str:
    """A country by its ISO code, named in the reader's language: "FR" -> "France"."""
    return Locale.parse(_locale()).territories.get((code or "").upper(), code)


#: Babel's territories that are groupings or placeholders, not countries a parcel goes to.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})


def is_country(code: str) -> bool:
    code = (code or "").upper()
    return (
        len(code) == 2
        and code.isalpha()
        and code not in _NOT_COUNTRIES
        and code in Locale("en").territories
    )
