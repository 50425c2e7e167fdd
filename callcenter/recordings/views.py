"""Recordings: list, player, audio with HTTP Range, download, legal hold,
record now, QA scorecards and scores. Every play and download is audited."""

from __future__ import annotations

from datetime import datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from callcenter import request_scope
from callcenter.auth.access import allow_roles
from callcenter.dates import format_datetime
from callcenter.errors import DomainError
from callcenter.i18n import select_locale
from callcenter.models import CallRecording
from callcenter.recording_store import RecordingStore, StoreError
from callcenter.services import campaigns, qa, recordings
from callcenter.states import Role

bp = Blueprint("recordings", __name__, url_prefix="/recordings")


@bp.context_processor
def _dates() -> dict[str, object]:
    def when(value: datetime | None) -> str:
        return "" if value is None else format_datetime(value, select_locale(), style="short")

    return {"when": when}


STAFF = (Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
SCORERS = (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
MANAGERS = (Role.MANAGER, Role.ADMIN)


def _store() -> RecordingStore:
    store: RecordingStore = current_app.extensions["cc_recording_store"]
    return store


def _playable(call_id: str) -> CallRecording:
    session = request_scope.session()
    return recordings.playable(recordings.recording_for(session, current_user, call_id))


@bp.get("/")
@allow_roles(*STAFF)
def index() -> ResponseReturnValue:
    session = request_scope.session()
    rows = recordings.visible_recordings(session, current_user)
    campaign_names, agent_names = recordings.listing_names(session, rows)
    return render_template(
        "recordings/index.html",
        recordings=rows,
        campaign_names=campaign_names,
        agent_names=agent_names,
    )


@bp.get("/<call_id>")
@allow_roles(*STAFF)
def player(call_id: str) -> ResponseReturnValue:
    session = request_scope.session()
    recording = recordings.recording_for(session, current_user, call_id)
    scorecard = qa.scorecard_of(session, recording.campaign_id)
    return render_template(
        "recordings/player.html",
        recording=recording,
        marks=recordings.step_marks(session, recording),
        scorecard=scorecard,
        scores=qa.scores_of_call(session, call_id),
        may_score=current_user.role in SCORERS and scorecard is not None,
        may_hold=current_user.role in MANAGERS,
    )


@bp.get("/<call_id>/audio")
@allow_roles(*STAFF)
def audio(call_id: str) -> ResponseReturnValue:
    return _send(call_id, "play")


@bp.get("/<call_id>/download")
@allow_roles(*STAFF)
def download(call_id: str) -> ResponseReturnValue:
    return _send(call_id, "download")


def _send(call_id: str, action: str) -> ResponseReturnValue:
    recording = _playable(call_id)
    assert recording.storage_key is not None
    store = _store()
    try:
        size = store.size(recording.storage_key)
    except StoreError as exc:
        current_app.logger.warning("recording %s not readable: %s", call_id, exc)
        abort(503)
    wanted = request.range.range_for_length(size) if request.range is not None else None
    if request.range is not None and wanted is None:
        return Response(status=416, headers={"Content-Range": f"bytes */{size}"})
    start, stop = wanted if wanted is not None else (0, size)
    # A player fetches many ranges of one play: the first request of it is the audited one.
    if action == "download" or start == 0:
        recordings.audit_access(
            request_scope.session(), current_user, recording, action, request.remote_addr
        )
        request_scope.commit()
    body = stream_with_context(store.read(recording.storage_key, start, stop - 1))
    response = Response(body, status=206 if wanted is not None else 200)
    response.headers["Content-Type"] = recording.media_type
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Content-Length"] = str(stop - start)
    response.headers["Cache-Control"] = "private, no-store"
    if wanted is not None:
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    if action == "download":
        response.headers["Content-Disposition"] = f'attachment; filename="call-{call_id}.flac"'
    return response


@bp.post("/<call_id>/legal-hold")
@allow_roles(*MANAGERS)
def legal_hold(call_id: str) -> ResponseReturnValue:
    hold = request.form.get("hold") == "1"
    recordings.set_legal_hold(
        request_scope.session(), current_user, call_id, hold, request.remote_addr
    )
    flash(_("Legal hold set: this recording is kept.") if hold else _("Legal hold lifted."))
    return redirect(url_for(".player", call_id=call_id))


@bp.post("/<call_id>/record")
@allow_roles(*STAFF)
def record_now(call_id: str) -> ResponseReturnValue:
    recordings.request_recording(
        request_scope.session(), current_app.extensions["cc_bus"], current_user, call_id
    )
    return {"ok": True, "call_id": call_id}


@bp.post("/<call_id>/score")
@allow_roles(*SCORERS)
def score(call_id: str) -> ResponseReturnValue:
    qa.score_call(
        request_scope.session(),
        current_user,
        call_id,
        request.form.getlist("checked"),
        request.form.get("comment", ""),
    )
    flash(_("Score saved."))
    return redirect(url_for(".player", call_id=call_id))


@bp.route("/scorecards/<int:campaign_id>", methods=["GET", "POST"])
@allow_roles(*MANAGERS)
def scorecard(campaign_id: int) -> ResponseReturnValue:
    session = request_scope.session()
    campaign = campaigns.get_campaign(session, campaign_id)
    text = qa.items_as_text(qa.scorecard_of(session, campaign_id))
    status = 200
    if request.method == "POST":
        text = request.form.get("items", "")
        try:
            qa.save_scorecard(session, current_user, campaign_id, text)
        except DomainError as exc:
            flash(exc.shown(), "error")
            status = 422
        else:
            flash(_("Scorecard saved."))
            return redirect(url_for(".scorecard", campaign_id=campaign_id))
    return render_template("recordings/scorecard.html", campaign=campaign, items_text=text), status
