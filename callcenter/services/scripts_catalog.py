"""Call scripts stored as versions: the built-in ones and managers' uploads.
A version is immutable once stored, so a call keeps the script it was made with."""

from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.errors import N_, Conflict, NotFound
from callcenter.models import Campaign, ScriptVersion, User
from callcenter.services import audit
from scripts import Script, load_builtin_scripts, parse_definition, parse_script

DEFAULT_KEY = "telemarketing-appointment"

_parsed: dict[int, Script] = {}
_parsed_lock = threading.Lock()


def ensure_builtin_scripts(session: Session) -> list[ScriptVersion]:
    """Store every built-in script not stored yet (matched by key, locale, version)."""
    return [_upsert(session, script, created_by=None) for script in load_builtin_scripts()]


def _upsert(session: Session, script: Script, *, created_by: User | None) -> ScriptVersion:
    stored = select(ScriptVersion).where(
        ScriptVersion.key == script.key,
        ScriptVersion.locale == script.locale,
        ScriptVersion.version == script.version,
    )
    found = session.scalar(stored)
    if found is not None:
        return found
    version = ScriptVersion(
        key=script.key,
        locale=script.locale,
        version=script.version,
        title=script.title,
        definition=script.to_definition(),
        source_name=script.source_name.rsplit("/", 1)[-1][:255] or None,
        created_by_id=created_by.id if created_by else None,
    )
    try:
        with session.begin_nested():
            session.add(version)
    except IntegrityError:
        # Another process stored it at the same moment (two consumers
        # connecting the first calls of a new database).
        return session.scalars(stored).one()
    return version


def add_version(session: Session, text: str, source_name: str, *, actor: User) -> ScriptVersion:
    """Store an uploaded script file. Raises `scripts.ScriptError` (every
    problem with file and line) or Conflict when that version exists."""
    script = parse_script(text, source_name)
    exists = session.scalar(
        select(ScriptVersion.id).where(
            ScriptVersion.key == script.key,
            ScriptVersion.locale == script.locale,
            ScriptVersion.version == script.version,
        )
    )
    if exists is not None:
        latest = session.scalar(
            select(func.max(ScriptVersion.version)).where(
                ScriptVersion.key == script.key, ScriptVersion.locale == script.locale
            )
        )
        raise Conflict(
            N_(
                "%(key)s (%(locale)s) version %(version)s exists already; "
                "number the new one %(next)s or more"
            ),
            details={"key": script.key, "locale": script.locale, "version": script.version},
            key=script.key,
            locale=script.locale,
            version=script.version,
            next=(latest or 0) + 1,
        )
    version = _upsert(session, script, created_by=actor)
    audit.record(
        session,
        "script.uploaded",
        actor=actor,
        target_type="script_version",
        target_id=version.id,
        details={"key": script.key, "locale": script.locale, "version": script.version},
    )
    return version


def list_versions(session: Session) -> list[ScriptVersion]:
    query = select(ScriptVersion).order_by(
        ScriptVersion.key, ScriptVersion.locale, ScriptVersion.version.desc()
    )
    return list(session.scalars(query))


def script_of(version: ScriptVersion) -> Script:
    """The parsed script of a stored version (cached: versions never change)."""
    cached = cached_script(version.id, version.key, version.version)
    if cached is not None:
        return cached
    script = parse_definition(version.definition, f"script_versions#{version.id}")
    with _parsed_lock:
        _parsed[version.id] = script
    return script


def cached_script(version_id: int, key: str, version: int) -> Script | None:
    """The parsed script of version `version_id` if it is cached and still
    that script (another database may number its versions otherwise)."""
    with _parsed_lock:
        cached = _parsed.get(version_id)
    if cached is not None and cached.key == key and cached.version == version:
        return cached
    return None


def builtin_version(session: Session, locale: str, key: str = DEFAULT_KEY) -> ScriptVersion:
    """The newest stored version of `key` in `locale` (built-ins stored first if needed)."""
    query = (
        select(ScriptVersion)
        .where(ScriptVersion.key == key, ScriptVersion.locale == locale)
        .order_by(ScriptVersion.version.desc())
        .limit(1)
    )
    found = session.scalar(query)
    if found is None:
        ensure_builtin_scripts(session)
        found = session.scalar(query)
    if found is None:
        raise NotFound(N_("no script '%(key)s' in '%(locale)s'"), key=key, locale=locale)
    return found


def version_for_campaign(session: Session, campaign: Campaign, locale: str) -> ScriptVersion:
    if campaign.script_version_id is not None:
        version = session.get(ScriptVersion, campaign.script_version_id)
        if version is not None:
            return version
    return builtin_version(session, locale)


def sibling_in_locale(session: Session, version: ScriptVersion, locale: str) -> ScriptVersion:
    """The same script in another language (newest version), or `version` itself."""
    if version.locale == locale:
        return version
    query = (
        select(ScriptVersion)
        .where(ScriptVersion.key == version.key, ScriptVersion.locale == locale)
        .order_by(ScriptVersion.version.desc())
        .limit(1)
    )
    return session.scalar(query) or version
