from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from callcenter.states import Role

# The labels' msgids are listed in callcenter.i18n (_role_labels).
ROLE_CHOICES = [(role.value, _l(role.value)) for role in Role]
LOCALE_CHOICES = [("fa", "فارسی"), ("en", "English")]


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=10, max=200)])
    again = PasswordField(_l("New password again"), validators=[DataRequired(), Length(max=200)])


class LocaleForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=LOCALE_CHOICES)


class UserCreateForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[DataRequired(), Length(max=64), Regexp(r"^[A-Za-z0-9._]+$")],
    )
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    team = SelectField(_l("Team"), choices=[], validate_choice=False)
    locale = SelectField(_l("Language"), choices=LOCALE_CHOICES)
    email = EmailField(_l("Email"), validators=[Optional(), Email(check_deliverability=False)])


class UserEditForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    team = SelectField(_l("Team"), choices=[], validate_choice=False)
    locale = SelectField(_l("Language"), choices=LOCALE_CHOICES)
    is_active = BooleanField(_l("Active"))
    is_salesperson = BooleanField(_l("Salesperson (holds the meetings agents book)"))
    direct_number = StringField(
        _l("Direct contact number"),
        description=_l(
            "Read back to customers by the call script; empty: the campaign's caller ID."
        ),
        validators=[Optional(), Length(max=40)],
    )


class ConfirmForm(FlaskForm):
    """A form with nothing but its CSRF token, for buttons that change things."""


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TeamForm(FlaskForm):
    name = StringField(_l("Team name"), validators=[DataRequired(), Length(max=120)])


class TeamPeopleForm(FlaskForm):
    name = StringField(_l("Team name"), validators=[DataRequired(), Length(max=120)])
    supervisors = CheckboxesField(_l("Supervisors"), coerce=int, validate_choice=False)
    agents = CheckboxesField(_l("Agents"), coerce=int, validate_choice=False)


class AuditFilterForm(FlaskForm):
    """GET filters of the audit log viewer (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    actor = StringField(_l("Who (username)"), validators=[Optional(), Length(max=64)])
    action = StringField(_l("Action"), validators=[Optional(), Length(max=64)])
    target_type = SelectField(_l("Object"), choices=[], validate_choice=False)
    target_id = StringField(_l("Object id"), validators=[Optional(), Length(max=64)])
    date_from = StringField(_l("From"), validators=[Optional(), Length(max=20)])
    date_to = StringField(_l("To"), validators=[Optional(), Length(max=20)])


class ApiTokenForm(FlaskForm):
    name = StringField(_l("Integration name"), validators=[DataRequired(), Length(max=120)])
    role = SelectField(
        _l("Role"),
        choices=[(role.value, _l(role.value)) for role in Role if role is not Role.AGENT],
    )
    all_campaigns = BooleanField(_l("All campaigns (and the global do-not-call list)"))
    campaigns = CheckboxesField(_l("Campaigns"), coerce=int, validate_choice=False)


class WebhookForm(FlaskForm):
    name = StringField(_l("Receiver name"), validators=[DataRequired(), Length(max=120)])
    url = StringField(_l("Address (URL)"), validators=[DataRequired(), Length(max=500)])
    events = CheckboxesField(_l("Events"), validate_choice=False)


class CalendarFeedForm(FlaskForm):
    owner = SelectField(_l("Salesperson"), choices=[], validate_choice=False)
    team = SelectField(_l("or a team"), choices=[], validate_choice=False)
