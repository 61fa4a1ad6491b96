"""The one form every package's pages share."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SubmitField


class ButtonForm(FlaskForm):
    """A form with nothing but its CSRF token, for POST-only buttons (log out, resend)."""

    submit = SubmitField(_l("Submit"))
