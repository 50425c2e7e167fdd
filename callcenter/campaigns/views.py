"""Campaigns, lead import and DNC lists (manager and admin)."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from callcenter import lead_fields, request_scope
from callcenter.auth.access import allow_roles
from callcenter.auth.forms import ConfirmForm
from callcenter.campaigns.forms import (
    DELIMITER_LABELS,
    FORM_DAYS,
    LEAD_FIELD_LABELS,
    OUTCOME_LABELS,
    CampaignForm,
    DncAddForm,
    DncImportForm,
    LeadUploadForm,
    MoveListForm,
    RecycleForm,
)
from callcenter.db import utcnow
from callcenter.errors import N_, DomainError, InvalidInput, NotFound
from callcenter.leadfiles import (
    InvalidPhone,
    LeadFileError,
    Message,
    ReadOptions,
    delimiter_of,
    normalize_phone,
    preview_lead_file,
)
from callcenter.models import Campaign, CampaignStatus, ScriptVersion, Team
from callcenter.services import (
    accounts,
    campaigns,
    consent_prompts,
    dnc,
    hopper_feed,
    lead_import,
    lead_import_jobs,
    lead_lists,
    script_gaps,
)
from callcenter.states import Role

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")
MANAGERS = (Role.MANAGER, Role.ADMIN)


def _prepare(form: CampaignForm) -> None:
    session = request_scope.session()
    versions = session.scalars(
        select(ScriptVersion).order_by(ScriptVersion.key, ScriptVersion.version)
    )
    form.script_version_id.choices = [
        ("", "—"),
        *((str(v.id), f"{v.title} ({v.locale} v{v.version})") for v in versions),
    ]
    form.teams.choices = [(team.id, team.name) for team in accounts.list_teams(session)]


def _teams(form: CampaignForm) -> list[Team]:
    wanted = set(form.teams.data or [])
    return [team for team in accounts.list_teams(request_scope.session()) if team.id in wanted]


def _render_form(
    form: CampaignForm, campaign: Campaign | None, status: int = 200
) -> ResponseReturnValue:
    session = request_scope.session()
    extra = {}
    if campaign is not None:
        lead_lists = lead_import.list_lead_lists(session, campaign.id)
        extra = {
            "lead_lists": lead_lists,
            "importing": lead_import_jobs.states_of(session, [item.id for item in lead_lists]),
            "dialable": hopper_feed.count_dialable(session, campaign.id, now=utcnow()),
            "script_gaps": script_gaps.campaign_gaps(session, campaign),
        }
    page = render_template(
        "campaigns/form.html",
        form=form,
        campaign=campaign,
        days=FORM_DAYS,
        outcomes=OUTCOME_LABELS,
        confirm=ConfirmForm(),
        **extra,
    )
    return page, status


def _save_errors(form: CampaignForm, exc: DomainError) -> None:
    errors = exc.details.get("errors")
    if isinstance(errors, dict):
        texts = exc.details.get("texts", {})
        for name, message in errors.items():
            if name in texts:
                text, params = texts[name]
                message = InvalidInput(text, **params).shown()
            field = getattr(form, name, None)
            (field.errors if field is not None else form.form_errors).append(message)
        return
    field = getattr(form, str(exc.details.get("field", "")), None)
    (field.errors if field is not None else form.form_errors).append(exc.shown())


def _uploaded_notice(form: CampaignForm) -> consent_prompts.ConsentWav | None:
    """The recording notice the form carries, checked (a DomainError if it is unfit)."""
    upload = form.consent_upload.data
    if not upload or not getattr(upload, "filename", ""):
        return None
    data = upload.stream.read(consent_prompts.MAX_BYTES + 1)
    return consent_prompts.checked_consent_wav(data)


def _apply_notice(
    form: CampaignForm, campaign: Campaign, notice: consent_prompts.ConsentWav | None
) -> None:
    session = request_scope.session()
    if notice is not None:
        consent_prompts.store_consent_wav(
            session,
            current_app.extensions["cc_recording_store"],
            campaign,
            notice,
            actor=current_user,
            filename=form.consent_upload.data.filename,
            ip_address=request.remote_addr,
        )
    elif form.consent_built_in.data:
        consent_prompts.use_built_in_notice(
            session, campaign, actor=current_user, ip_address=request.remote_addr
        )


@bp.get("/")
@allow_roles(*MANAGERS)
def index() -> ResponseReturnValue:
    session = request_scope.session()
    return render_template(
        "campaigns/index.html",
        campaigns=campaigns.list_campaigns(session, include_archived=True),
        confirm=ConfirmForm(),
    )


@bp.route("/new", methods=["GET", "POST"])
@allow_roles(*MANAGERS)
def create() -> ResponseReturnValue:
    form = CampaignForm()
    _prepare(form)
    if request.method == "GET":
        form.fill_defaults()
    if form.validate_on_submit():
        try:
            notice = _uploaded_notice(form)
            campaign = campaigns.create_campaign(
                request_scope.session(), actor=current_user, teams=_teams(form), **form.values()
            )
            _apply_notice(form, campaign, notice)
        except DomainError as exc:
            _save_errors(form, exc)
        else:
            flash(_("Campaign created (paused)."), "success")
            return redirect(url_for("campaigns.edit", campaign_id=campaign.id))
    return _render_form(form, None, 422 if form.is_submitted() else 200)


@bp.route("/<int:campaign_id>", methods=["GET", "POST"])
@allow_roles(*MANAGERS)
def edit(campaign_id: int) -> ResponseReturnValue:
    session = request_scope.session()
    campaign = campaigns.get_campaign(session, campaign_id)
    form = CampaignForm()
    _prepare(form)
    if request.method == "GET":
        form.fill_from(campaign)
    if form.validate_on_submit():
        try:
            notice = _uploaded_notice(form)
            campaigns.update_campaign(session, campaign, actor=current_user, **form.values())
            campaigns.set_teams(session, campaign, _teams(form), actor=current_user)
            _apply_notice(form, campaign, notice)
        except DomainError as exc:
            _save_errors(form, exc)
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("campaigns.edit", campaign_id=campaign.id))
    return _render_form(form, campaign, 422 if form.is_submitted() else 200)


@bp.post("/<int:campaign_id>/status")
@allow_roles(*MANAGERS)
def set_status(campaign_id: int) -> ResponseReturnValue:
    form = ConfirmForm()
    if form.validate_on_submit():
        session = request_scope.session()
        campaign = campaigns.get_campaign(session, campaign_id)
        wanted = request.form.get("status", "")
        if wanted in (CampaignStatus.ACTIVE.value, CampaignStatus.PAUSED.value):
            campaigns.set_status(session, campaign, CampaignStatus(wanted), actor=current_user)
    return redirect(url_for("campaigns.index"))


@bp.route("/<int:campaign_id>/import", methods=["GET", "POST"])
@allow_roles(*MANAGERS)
def upload(campaign_id: int) -> ResponseReturnValue:
    session = request_scope.session()
    campaign = campaigns.get_campaign(session, campaign_id)
    form = LeadUploadForm()
    if form.validate_on_submit():
        upload_file = form.file.data
        try:
            mapping, options = _read_choices(form.mapping.data or "")
            lead_list = lead_import_jobs.queue_import(
                session,
                upload_file.read(),
                campaign_id=campaign.id,
                filename=upload_file.filename or "",
                actor_id=current_user.id,
                mapping=mapping,
                options=options,
            )
        except DomainError as exc:
            form.file.errors.append(exc.shown())
        else:
            request_scope.commit()  # before the worker looks for it
            current_app.extensions["cc_import_worker"].wake()
            return redirect(
                url_for("campaigns.lead_list", campaign_id=campaign.id, lead_list_id=lead_list.id)
            )
    status = 422 if form.is_submitted() else 200
    page = render_template(
        "campaigns/upload.html",
        form=form,
        campaign=campaign,
        lead_field_names=lead_fields.shown(),
    )
    return page, status


@bp.post("/<int:campaign_id>/import/preview")
@allow_roles(*MANAGERS)
def upload_preview(campaign_id: int) -> ResponseReturnValue:
    """The file as the import would read it (an HTML fragment the upload
    page shows): what was detected, a field per column, the first rows."""
    campaign = campaigns.get_campaign(request_scope.session(), campaign_id)
    form = LeadUploadForm()
    if not form.validate_on_submit():
        return render_template("campaigns/_preview.html", problem=_("Choose a file.")), 422
    upload_file = form.file.data
    try:
        mapping, options = _read_choices(form.mapping.data or "")
        shown = preview_lead_file(
            upload_file.read(),
            filename=upload_file.filename or None,
            mapping=mapping,
            options=options,
        )
    except DomainError as exc:
        return render_template("campaigns/_preview.html", problem=exc.shown()), 422
    return render_template(
        "campaigns/_preview.html",
        campaign=campaign,
        preview=shown,
        fields=LEAD_FIELD_LABELS,
        delimiters=DELIMITER_LABELS,
    )


def _read_choices(mapping_text: str) -> tuple[dict[str, str] | None, ReadOptions]:
    """The column mapping (the preview's field per column, else the typed
    `column = field` lines) and how to read the file, from the upload form."""
    form = request.form
    mapping = _mapping(mapping_text) or {}
    for key, field_name in form.items():
        if key.startswith("field-") and field_name:
            column = form.get("column-" + key.removeprefix("field-"), "")
            if column:
                mapping[column] = field_name
    line = form.get("header_line", "").strip()
    if line and not line.isdigit():
        raise LeadFileError(N_("The header line must be a line number."))
    options = ReadOptions(
        sheet=form.get("sheet") or None,
        header_line=int(line) if line and int(line) > 0 else None,
        delimiter=delimiter_of(form.get("delimiter") or None),
    )
    return mapping or None, options


def _mapping(text: str) -> dict[str, str] | None:
    pairs = [line.rsplit("=", 1) for line in text.splitlines() if "=" in line]
    return {column.strip(): lead_fields.field_named(field) for column, field in pairs} or None


@bp.app_template_filter("said")
def said(message: Message | dict[str, Any]) -> str:
    """A reason from a lead file (a Message, or a report row holding one) in
    the reader's language."""
    if not isinstance(message, Message):
        message = lead_import.entry_message(message)
    if not message.params:
        return _(message.text)
    params = dict(message.params)
    locale = get_locale()
    if "region" in params and locale is not None:  # a country code: its name, in the reader's
        params["region"] = locale.territories.get(params["region"], params["region"])
    return _(message.text, **params)


@bp.get("/<int:campaign_id>/lists/<int:lead_list_id>")
@allow_roles(*MANAGERS)
def lead_list(campaign_id: int, lead_list_id: int) -> ResponseReturnValue:
    session = request_scope.session()
    campaign = campaigns.get_campaign(session, campaign_id)
    found = lead_import.get_lead_list(session, lead_list_id)
    if found.campaign_id != campaign.id:
        return redirect(url_for("campaigns.edit", campaign_id=campaign.id))
    return render_template(
        "campaigns/lead_list.html",
        campaign=campaign,
        lead_list=found,
        report=found.report,
        progress=lead_import_jobs.progress(session, found.id),
    )


@bp.get("/<int:campaign_id>/lists/<int:lead_list_id>/progress")
@allow_roles(*MANAGERS)
def import_progress(campaign_id: int, lead_list_id: int) -> ResponseReturnValue:
    """The import's counters as JSON, polled by the result page until it ends."""
    session = request_scope.session()
    found = lead_import.get_lead_list(session, lead_list_id)
    if found.campaign_id != campaign_id:
        raise NotFound(N_("no such lead list"), details={"lead_list_id": lead_list_id})
    return jsonify(lead_import_jobs.progress(session, found.id).as_json())


@bp.get("/<int:campaign_id>/lists")
@allow_roles(*MANAGERS)
def lists(campaign_id: int) -> ResponseReturnValue:
    """The campaign's lead lists with their penetration and what can be done to each."""
    session = request_scope.session()
    campaign = campaigns.get_campaign(session, campaign_id)
    found = lead_import.list_lead_lists(session, campaign.id)
    move_form = MoveListForm()
    move_form.campaign.choices = [
        (str(other.id), other.name)
        for other in campaigns.list_campaigns(session)
        if other.id != campaign.id
    ]
    return render_template(
        "campaigns/lists.html",
        campaign=campaign,
        lead_lists=found,
        penetration=lead_lists.penetration(session, [item.id for item in found]),
        importing=lead_import_jobs.states_of(session, [item.id for item in found]),
        confirm=ConfirmForm(),
        recycle_form=RecycleForm(),
        move_form=move_form,
    )


def _list_of(campaign_id: int, lead_list_id: int) -> Any:
    found = lead_import.get_lead_list(request_scope.session(), lead_list_id)
    if found.campaign_id != campaign_id:
        raise NotFound(N_("no such lead list"), details={"lead_list_id": lead_list_id})
    return found


def _back_to_lists(campaign_id: int) -> ResponseReturnValue:
    return redirect(url_for("campaigns.lists", campaign_id=campaign_id))


@bp.post("/<int:campaign_id>/lists/<int:lead_list_id>/enabled")
@allow_roles(*MANAGERS)
def set_list_enabled(campaign_id: int, lead_list_id: int) -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit():
        found = _list_of(campaign_id, lead_list_id)
        enabled = request.form.get("enabled") == "1"
        lead_lists.set_enabled(request_scope.session(), found, enabled, actor=current_user)
        message = (
            _("List %(name)s is enabled: its leads are dialed.", name=found.name)
            if enabled
            else _("List %(name)s is disabled: its leads are not dialed.", name=found.name)
        )
        flash(message, "success")
    return _back_to_lists(campaign_id)


@bp.post("/<int:campaign_id>/lists/<int:lead_list_id>/recycle")
@allow_roles(*MANAGERS)
def recycle_list(campaign_id: int, lead_list_id: int) -> ResponseReturnValue:
    form = RecycleForm()
    if not form.validate_on_submit():
        flash(_("Choose an outcome and a number of hours."), "error")
        return _back_to_lists(campaign_id)
    found = _list_of(campaign_id, lead_list_id)
    try:
        count = lead_lists.recycle(
            request_scope.session(),
            found,
            outcome=form.outcome.data or "",
            older_than_hours=int(form.hours.data or 0),
            actor=current_user,
            now=utcnow(),
        )
    except DomainError as exc:
        flash(exc.shown(), "error")
    else:
        flash(_("%(count)s leads of %(name)s recycled.", count=count, name=found.name), "success")
    return _back_to_lists(campaign_id)


@bp.post("/<int:campaign_id>/lists/<int:lead_list_id>/reset")
@allow_roles(*MANAGERS)
def reset_list(campaign_id: int, lead_list_id: int) -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit():
        found = _list_of(campaign_id, lead_list_id)
        count = lead_lists.reset_exhausted(
            request_scope.session(), found, actor=current_user, now=utcnow()
        )
        flash(
            _("%(count)s exhausted leads of %(name)s reset.", count=count, name=found.name),
            "success",
        )
    return _back_to_lists(campaign_id)


@bp.post("/<int:campaign_id>/lists/<int:lead_list_id>/move")
@allow_roles(*MANAGERS)
def move_list(campaign_id: int, lead_list_id: int) -> ResponseReturnValue:
    session = request_scope.session()
    form = MoveListForm()
    form.campaign.choices = [(str(c.id), c.name) for c in campaigns.list_campaigns(session)]
    if not form.validate_on_submit():
        flash(_("Choose the campaign to move the list to."), "error")
        return _back_to_lists(campaign_id)
    found = _list_of(campaign_id, lead_list_id)
    target = campaigns.get_campaign(session, int(form.campaign.data or 0))
    try:
        result = lead_lists.move_to_campaign(session, found, target, actor=current_user)
    except DomainError as exc:
        flash(exc.shown(), "error")
        return _back_to_lists(campaign_id)
    flash(
        _(
            "%(moved)s leads moved to %(campaign)s; %(kept)s stayed here because "
            "their customer is already in %(campaign)s.",
            moved=result.moved,
            kept=result.kept,
            campaign=target.name,
        ),
        "success",
    )
    return _back_to_lists(campaign_id)


@bp.get("/<int:campaign_id>/lists/<int:lead_list_id>/report.csv")
@allow_roles(*MANAGERS)
def import_report_csv(campaign_id: int, lead_list_id: int) -> ResponseReturnValue:
    """Every row the report lists (rejected, on a DNC list, duplicate,
    warned), one per line with its reason in the reader's language."""
    session = request_scope.session()
    found = lead_import.get_lead_list(session, lead_list_id)
    if found.campaign_id != campaign_id:
        raise NotFound(N_("no such lead list"), details={"lead_list_id": lead_list_id})
    kinds = {
        "rejected": _("Rejected"),
        "dnc": _("On a do-not-call list"),
        "duplicates": _("Duplicate"),
        "already_in_campaign": _("Already in this campaign"),
        "warnings": _("Warning"),
    }
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Line"), _("What"), _("Reason")])
    for line, kind, message in lead_import.report_rows(found.report):
        writer.writerow([line if line is not None else "", kinds[kind], said(message)])
    name = f"lead-list-{found.id}-report.csv"
    return Response(
        "\ufeff" + out.getvalue(),  # the BOM: Excel then reads the Persian as UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route("/dnc", methods=["GET"])
@allow_roles(*MANAGERS)
def dnc_list() -> ResponseReturnValue:
    session = request_scope.session()
    campaign_id = request.args.get("campaign", type=int)
    campaign = campaigns.get_campaign(session, campaign_id) if campaign_id else None
    return render_template(
        "campaigns/dnc.html",
        campaign=campaign,
        campaigns=campaigns.list_campaigns(session),
        entries=dnc.list_entries(session, campaign_id=campaign_id, limit=500),
        total=dnc.count_entries(session, campaign_id=campaign_id),
        add_form=DncAddForm(),
        import_form=DncImportForm(),
    )


@bp.post("/dnc/add")
@allow_roles(*MANAGERS)
def dnc_add() -> ResponseReturnValue:
    campaign_id = request.args.get("campaign", type=int)
    form = DncAddForm()
    if form.validate_on_submit():
        try:
            phone = normalize_phone(form.phone.data or "").e164
            dnc.add_number(
                request_scope.session(),
                phone,
                campaign_id=campaign_id,
                source="manual",
                reason=form.reason.data or "",
                actor_id=current_user.id,
            )
        except InvalidPhone as exc:
            reason = said(Message(exc.text, exc.params))
            flash(_("Not a valid number: %(reason)s", reason=reason), "error")
        else:
            flash(_("%(phone)s will not be called.", phone=phone), "success")
    return redirect(url_for("campaigns.dnc_list", campaign=campaign_id))


@bp.post("/dnc/import")
@allow_roles(*MANAGERS)
def dnc_import() -> ResponseReturnValue:
    campaign_id = request.args.get("campaign", type=int)
    form = DncImportForm()
    if form.validate_on_submit():
        text = form.file.data.read().decode("utf-8-sig", errors="replace")
        result = dnc.import_csv(
            request_scope.session(),
            text,
            campaign_id=campaign_id,
            source="import",
            actor_id=current_user.id,
        )
        flash(
            _(
                "%(added)s added, %(listed)s already listed, %(rejected)s rejected.",
                added=result.added,
                listed=result.already_listed,
                rejected=len(result.rejected),
            ),
            "success",
        )
        for item in result.rejected[:50]:
            flash(_("Line %(line)s: %(reason)s", line=item["line"], reason=said(item)), "error")
    return redirect(url_for("campaigns.dnc_list", campaign=campaign_id))


@bp.get("/dnc/export.csv")
@allow_roles(*MANAGERS)
def dnc_export() -> ResponseReturnValue:
    campaign_id = request.args.get("campaign", type=int)
    body = dnc.export_csv(request_scope.session(), campaign_id=campaign_id)
    name = f"dnc-{campaign_id or 'global'}.csv"
    return Response(
        "\ufeff" + body,
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )
