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
from marketplace.kernel.mail import TOPICS

from .services import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH

_email = [
    DataRequired(message=_l("Enter your email address.")),
    Email(message=_l("Enter a valid email address, like name@example.com.")),
    Length(max=254, message=_l("Use at most %(max)d characters.")),
]
_new_password = [
    InputRequired(message=_l("Choose a password.")),
    Length(
        min=PASSWORD_MIN_LENGTH,
        max=PASSWORD_MAX_LENGTH,
        message=_l("Use between %(min)d and %(max)d characters."),
    ),
]
_display_name = [
    DataRequired(message=_l("Enter the name other members will see.")),
    Length(min=2, max=60, message=_l("Use between %(min)d and %(max)d characters.")),
]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _repeat_password(label) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            InputRequired(_l("Repeat your password.")),
            EqualTo("password", _l("The passwords differ.")),
        ],
    )


class RegisterForm(FlaskForm):
    email = EmailField(_l("Email"), validators=_email, filters=[_strip])
    display_name = StringField(_l("Display name"), validators=_display_name)
    password = PasswordField(_l("Password"), validators=_new_password)
    confirm = _repeat_password(_l("Repeat password"))
    #: Filled in by the browser (static/js/app.js) with its own time zone, if it says one.
    time_zone = HiddenField(render_kw={"data-browser-time-zone": ""})
    submit = SubmitField(_l("Create account"))


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=_email, filters=[_strip])
    password = PasswordField(_l("Password"), validators=[InputRequired(_l("Enter your password."))])
    remember = BooleanField(_l("Keep me logged in on this device"))
    submit = SubmitField(_l("Log in"))


class EmailForm(FlaskForm):
    email = EmailField(_l("Email"), validators=_email, filters=[_strip])
    submit = SubmitField(_l("Send me a reset link"))


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=_new_password)
    confirm = _repeat_password(_l("Repeat new password"))
    submit = SubmitField(_l("Set new password"))


class ProfileForm(FlaskForm):
    display_name = StringField(_l("Display name"), validators=_display_name)
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
    submit = SubmitField(_l("Save"))


class DesignerTermsForm(FlaskForm):
    accept = BooleanField(
        _l("I have read and accept the designer terms"),
        validators=[DataRequired(_l("You need to accept the terms to become a designer."))],
    )
    submit = SubmitField(_l("Become a designer"))


class MailForm(FlaskForm):
    """One checkbox per topic of optional mail (``topic_<key>``), ticked while it is on."""

    submit = SubmitField(_l("Save my mail choices"))

    @staticmethod
    def field_name(topic) -> str:
        return f"topic_{topic.key}"


for _topic in TOPICS:
    setattr(
        MailForm,
        MailForm.field_name(_topic),
        BooleanField(_l(_topic.label), description=_l(_topic.explanation)),
    )
del _topic
