"""One typed settings object: config/defaults.toml, then the file named by
CC_CONFIG, then CC_* environment variables (``__`` separates a section from
its key: CC_SMTP__HOST). Validated once at start-up."""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "config" / "defaults.toml"
ENV_PREFIX = "CC_"
SUPPORTED_DATABASES = ("sqlite", "postgresql")


class SettingsError(Exception):
    """A configuration problem, worded as the one line the operator sees."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(5000, ge=1, le=65535)


class LocaleSettings(_Section):
    default: Literal["fa", "en"] = "fa"
    timezone: str = "Asia/Tehran"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class AuthSettings(_Section):
    session_lifetime_minutes: int = Field(600, ge=5)
    idle_timeout_minutes: int = Field(60, ge=1)
    max_failed_logins: int = Field(5, ge=1)
    lockout_minutes: int = Field(15, ge=1)
    login_rate_limit: str = "10 per minute"


class SmtpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    username: str = ""
    password: str = ""
    use_tls: bool = False
    sender: str = "callcenter@localhost"


class SimulationSettings(_Section):
    """The simulated carrier: the odds of each fate per call (weights) and the
    customers' median talk time."""

    answer: float = Field(default=0.35, ge=0)
    machine: float = Field(default=0.10, ge=0)
    busy: float = Field(default=0.15, ge=0)
    no_answer: float = Field(default=0.30, ge=0)
    failed: float = Field(default=0.10, ge=0)
    talk_median_seconds: float = Field(default=90.0, gt=0)


class DialerSettings(_Section):
    carrier: Literal["simulated", "sip"] = "simulated"
    trunk_uri: str = ""
    keepalive_seconds: float = Field(default=30.0, gt=0)
    sip_t1_seconds: float = Field(default=0.5, gt=0, le=4)
    campaign_lease_seconds: float = Field(default=15.0, gt=0)
    trunk_name: str = Field(default="default", min_length=1, max_length=120)
    simulation: SimulationSettings = SimulationSettings()


class Settings(_Section):
    env: Literal["embedded", "production", "test"] = "embedded"
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = ""
    instance_path: Path = Path("instance")
    load_demo_data: bool = True
    log_format: Literal["text", "json"] = "text"
    web: WebSettings = WebSettings()
    locale: LocaleSettings = LocaleSettings()
    auth: AuthSettings = AuthSettings()
    smtp: SmtpSettings = SmtpSettings()
    dialer: DialerSettings = DialerSettings()

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def uses_redis(self) -> bool:
        return bool(self.redis_url)


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Merge every source, validate, and fill what the embedded default may
    make for itself (the SQLite file and the secret key)."""
    environ = os.environ if environ is None else environ
    merged = _read_toml(DEFAULTS_FILE)
    if config_file := environ.get("CC_CONFIG"):
        _deep_merge(merged, _read_toml(Path(config_file)))
    _deep_merge(merged, _from_environment(environ))
    _deep_merge(merged, dict(overrides or {}))
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        raise SettingsError(_first_problem(exc)) from None
    settings.instance_path = settings.instance_path.resolve()
    _fill_database_url(settings)
    _check_database_url(settings.database_url)
    _fill_secret_key(settings)
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise SettingsError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "CC_CONFIG" or name.startswith("CC_TEST_"):
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        target = found
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
    return found


def _deep_merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    env_name = ENV_PREFIX + "__".join(str(part) for part in error["loc"]).upper()
    return f"setting {where} ({env_name}): {error['msg']}"


def _fill_database_url(settings: Settings) -> None:
    if settings.database_url:
        return
    if settings.is_production:
        raise SettingsError("CC_DATABASE_URL must be set in production mode")
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    settings.database_url = f"sqlite:///{settings.instance_path / 'callcenter.db'}"


def _check_database_url(url: str) -> None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SettingsError(f"CC_DATABASE_URL is not a database URL: {url!r}") from None
    if parsed.get_backend_name() not in SUPPORTED_DATABASES:
        raise SettingsError(
            f"CC_DATABASE_URL uses {parsed.get_backend_name()!r}; "
            f"supported: {', '.join(SUPPORTED_DATABASES)}"
        )


def _fill_secret_key(settings: Settings) -> None:
    if settings.secret_key:
        return
    if settings.is_production:
        raise SettingsError("CC_SECRET_KEY must be set in production mode")
    key_file = settings.instance_path / "secret_key"
    if not key_file.exists():
        _create_key_file(key_file)
    settings.secret_key = key_file.read_text().strip()


def _create_key_file(key_file: Path) -> None:
    """Written whole under another name, then linked into place: of several
    processes starting at once, the first link wins and all read its key."""
    key_file.parent.mkdir(parents=True, exist_ok=True)
    scratch = key_file.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
    scratch.write_text(secrets.token_hex(32))
    scratch.chmod(0o600)
    try:
        os.link(scratch, key_file)
    except FileExistsError:
        pass
    finally:
        scratch.unlink()
