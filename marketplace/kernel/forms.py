"""The one form every package's pages share."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SubmitField
from wtforms.validators import DataRequired


class ButtonForm(FlaskForm):
    """A form with nothing but its CSRF token, for POST-only buttons (log out, resend)."""

    submit = SubmitField(_l("Submit"))


class ConfirmForm(FlaskForm):
    """A button whose consequence cannot be undone (closing a campaign charges every card):
    a box to tick first. The browser asks for it (``required``) and the server checks it, so
    the step holds without JavaScript; the page names what is confirmed beside the box."""

    confirm = BooleanField(_l("I confirm"), validators=[DataRequired()])
    submit = SubmitField(_l("Submit"))
