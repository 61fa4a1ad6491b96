"""Form shapes for accounts. Rules that need the database live in services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length

from marketplace.kernel.i18n import LANGUAGES, time_zone_choices

from .services import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

_email = [
    DataRequired(message="Enter your email address."),
    Email(message="Enter a valid email address, like name@example.com."),
    Length(max=254),
]
_new_password = [
    InputRequired(message="Choose a password."),
    Length(
        min=PASSWORD_MIN_LENGTH,
        max=PASSWORD_MAX_LENGTH,
        message=f"Use between {PASSWORD_MIN_LENGTH} and {PASSWORD_MAX_LENGTH} characters.",
    ),
]
_display_name = [
    DataRequired(message="Enter the name other members will see."),
    Length(min=2, max=60, message="Use between 2 and 60 characters."),
]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _repeat_password(label: str) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            InputRequired("Repeat your password."),
            EqualTo("password", "The passwords differ."),
        ],
    )


class RegisterForm(FlaskForm):
    email = EmailField("Email", validators=_email, filters=[_strip])
    display_name = StringField("Display name", validators=_display_name)
    password = PasswordField("Password", validators=_new_password)
    confirm = _repeat_password("Repeat password")
    #: Filled in by the browser (static/js/app.js) with its own time zone, if it says one.
    time_zone = HiddenField(render_kw={"data-browser-time-zone": ""})
    submit = SubmitField("Create account")


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=_email, filters=[_strip])
    password = PasswordField("Password", validators=[InputRequired("Enter your password.")])
    remember = BooleanField("Keep me logged in on this device")
    submit = SubmitField("Log in")


class EmailForm(FlaskForm):
    email = EmailField("Email", validators=_email, filters=[_strip])
    submit = SubmitField("Send me a reset link")


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=_new_password)
    confirm = _repeat_password("Repeat new password")
    submit = SubmitField("Set new password")


class ProfileForm(FlaskForm):
    display_name = StringField("Display name", validators=_display_name)
    locale = SelectField(
        _l("Language"),
        choices=[SelectChoice(code, name) for code, name in LANGUAGES.items()],
        description=_l("Pages and the mail we send you are written in it."),
    )
    time_zone = SelectField(
        _l("Time zone"),
        choices=[SelectChoice(zone, zone) for zone in time_zone_choices()],
        description=_l("Dates and times are shown in it, deadlines included."),
        render_kw={"data-suggest-time-zone": ""},
    )
    submit = SubmitField("Save")


class DesignerTermsForm(FlaskForm):
    accept = BooleanField(
        "I have read and accept the designer terms",
        validators=[DataRequired("You need to accept the terms to become a designer.")],
    )
    submit = SubmitField("Become a designer")
