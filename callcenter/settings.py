"""One typed settings object: callcenter/defaults.toml (shipped inside the
package), then the file named by
CC_CONFIG, then CC_* environment variables (``__`` separates a section from
its key: CC_SMTP__HOST). Validated once at start-up."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from callcenter.db import with_installed_driver

DEFAULTS_FILE = Path(__file__).resolve().parent / "defaults.toml"
ENV_PREFIX = "CC_"
SUPPORTED_DATABASES = ("sqlite", "postgresql")


class SettingsError(Exception):
    """A configuration problem, worded as the one line the operator sees."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(5000, ge=1, le=65535)
    metrics_networks: list[str] = Field(
        default_factory=lambda: [
            "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"
        ]
    )  # fmt: skip
    """Who may read /metrics (Prometheus on the internal network); others get 404."""
    sockets_per_ip: int = Field(100, ge=1)
    """Socket.IO connections one client address may hold open in one web
    process; an office behind one NAT address counts as one client."""
    sockets_per_process: int = Field(1000, ge=1)
    """Socket.IO connections one web process holds open at most (keep it
    below gunicorn's worker_connections, so pages always find room)."""
    applies_events: bool = True
    """With Redis: the web process reads the event stream as a member of the
    consumer group. Off where `callcenter consume` processes apply every
    event, so the web's gevent loop serves only requests and sockets."""

    @field_validator("metrics_networks", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [network.strip() for network in value.split(",") if network.strip()]
        return value

    @field_validator("metrics_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"not a network: {network!r}") from None
        return value


class BusSettings(_Section):
    linger_ms: int = Field(50, ge=0, le=1000)
    """With Redis: a read of events no screen waits on (a call dialing,
    ringing, answered or ended) waits up to this long for more, so they are
    applied in one transaction; 0 applies each read at once."""


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
    api_rate_limit: str = "120 per minute"
    """Requests one API token may make (counted in Redis when configured, so
    across every web process)."""


class WebhookSettings(_Section):
    timeout_seconds: float = Field(5.0, gt=0, le=60)
    """A receiver that has not answered by then counts as failed (and is retried)."""
    max_attempts: int = Field(8, ge=1, le=30)
    first_retry_seconds: float = Field(30.0, gt=0)
    """Then doubled for each further try, up to max_retry_seconds."""
    max_retry_seconds: float = Field(3600.0, gt=0)
    senders: int = Field(4, ge=1, le=32)
    """Deliveries sent at once, so one slow receiver does not hold up the others."""
    retention_days: int = Field(30, ge=1, le=3650)
    """Delivered or given-up deliveries (and their attempts) older than this are pruned."""


class SmsSettings(_Section):
    provider: Literal["none", "http", "kavenegar"] = "none"
    url_template: str = ""
    """The generic HTTP gateway: a URL with {to}, {text} and {sender}, sent as GET."""
    kavenegar_api_key: str = ""
    kavenegar_url: str = "https://api.kavenegar.com"
    sender: str = ""
    timeout_seconds: float = Field(10.0, gt=0, le=60)
    max_attempts: int = Field(5, ge=1, le=20)
    sending_hours: str = "08:00-21:00"
    """In the floor's time zone; an SMS due outside them waits for the next start."""
    opt_out_keywords: list[str] = Field(default_factory=lambda: ["لغو", "لغو۱۱", "11", "STOP"])
    inbound_token: str = ""
    """The secret the gateway's inbound-SMS webhook URL carries (?token=...)."""
    retention_days: int = Field(30, ge=1, le=3650)
    """SMS no longer queued and older than this are pruned."""


class SmtpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    username: str = ""
    password: str = ""
    use_tls: bool = False
    sender: str = "callcenter@localhost"


class SimulationSettings(_Section):
    """The simulated carrier: the odds of each fate per call (weights), the
    median time a call rings before its fate, and the customers' median talk
    time."""

    answer: float = Field(default=0.35, ge=0)
    machine: float = Field(default=0.10, ge=0)
    busy: float = Field(default=0.15, ge=0)
    no_answer: float = Field(default=0.30, ge=0)
    failed: float = Field(default=0.10, ge=0)
    ring_median_seconds: float = Field(default=6.0, gt=0)
    talk_median_seconds: float = Field(default=90.0, gt=0)


_SIP_URI = re.compile(
    r"^sip:(?:[^@\s<>\"]+@)?(?P<host>[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?(?:;[^\s<>\"]*)?$"
)
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_SIP_USER = re.compile(r"^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+$")


def check_sip_uri(value: str) -> str:
    """``sip:[user@]host[:port][;params]`` with a port in range, or ValueError."""
    match = _SIP_URI.match(value)
    if match is None:
        raise ValueError(f"not a SIP URI (sip:host[:port]): {value!r}")
    if match["port"] is not None and not 1 <= int(match["port"]) <= 65535:
        raise ValueError(f"port out of range in {value!r}")
    return value


def _ipv4_address(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ValueError(f"not an IPv4 address: {value!r}") from None


class SipSettings(_Section):
    """The SIP trunk as the dialer reaches it (``[dialer.sip]``)."""

    # "register" is spelled so in the file and environment; as a field name it
    # would shadow the model class's ABC ``register``.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    bind_host: str = "0.0.0.0"
    bind_port: int = Field(default=0, ge=0, le=65535)
    public_host: str | None = None
    public_port: int | None = Field(default=None, ge=1, le=65535)
    transport: Literal["udp", "tcp"] = "udp"
    outbound_proxy: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    realm: str | None = None
    domain: str | None = None
    registration: bool = Field(default=False, alias="register")
    register_expires_seconds: int = Field(default=300, ge=30, le=86400)
    keepalive_seconds: float = Field(default=30.0, ge=0)
    t1_seconds: float = Field(default=0.5, gt=0, le=4)
    rtp_host: str | None = None
    rtp_port_min: int = Field(default=10000, ge=1, le=65535)
    rtp_port_max: int = Field(default=20000, ge=1, le=65535)
    codecs: list[Literal["PCMU", "PCMA"]] = Field(default=["PCMU", "PCMA"], min_length=1)
    dtmf: bool = True
    session_expires_seconds: int = Field(default=1800, ge=0)
    min_se_seconds: int = Field(default=90, ge=90)
    caller_id: str = Field(default="anonymous", min_length=1, max_length=32)
    caller_name: str | None = Field(default=None, max_length=64)

    @field_validator(
        "public_host",
        "public_port",
        "outbound_proxy",
        "username",
        "password",
        "realm",
        "domain",
        "rtp_host",
        "caller_name",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("codecs", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [name.strip().upper() for name in value.split(",") if name.strip()]
        return value

    @field_validator("codecs")
    @classmethod
    def _each_codec_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a codec is listed twice")
        return value

    @field_validator("bind_host")
    @classmethod
    def _bind_address(cls, value: str) -> str:
        return _ipv4_address(value)

    @field_validator("rtp_host")
    @classmethod
    def _rtp_address(cls, value: str | None) -> str | None:
        return None if value is None else _ipv4_address(value)

    @field_validator("public_host", "domain")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and not _HOST_NAME.match(value):
            raise ValueError(f"not a host name or IPv4 address: {value!r}")
        return value

    @field_validator("outbound_proxy")
    @classmethod
    def _proxy_uri(cls, value: str | None) -> str | None:
        return None if value is None else check_sip_uri(value)

    @field_validator("caller_id")
    @classmethod
    def _sip_user(cls, value: str) -> str:
        if not _SIP_USER.match(value):
            raise ValueError(f"not usable as the user part of a SIP URI: {value!r}")
        return value

    @model_validator(mode="after")
    def _ranges(self) -> SipSettings:
        if self.rtp_port_min >= self.rtp_port_max:
            raise ValueError(
                f"rtp_port_min ({self.rtp_port_min}) must be below "
                f"rtp_port_max ({self.rtp_port_max})"
            )
        if 0 < self.session_expires_seconds < self.min_se_seconds:
            raise ValueError(
                f"session_expires_seconds ({self.session_expires_seconds}) must be 0 (off) "
                f"or at least min_se_seconds ({self.min_se_seconds})"
            )
        return self


class WebphoneSettings(_Section):
    """The agents' browser phone (``[webphone]``): SIP over WebSocket from the
    agent screen, answered automatically; see docs/deployment.md."""

    enabled: bool = True
    ws_url: str = ""
    """Where the browser connects. Empty: the built-in gateway, on the host the
    agent opened the screen from, at ``gateway_port``."""
    domain: str = "webphone.invalid"
    """The domain of the browser phones' SIP identities (sip:agent-<id>@domain)."""
    agent_uri: str = "sip:agent-{agent_id}@{domain}"
    """What the dialer calls to reach an agent's browser phone."""
    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=5066, ge=1, le=65535)
    gateway_origins: list[str] = Field(default_factory=list)
    """Pages that may use the built-in gateway besides those from the host the
    browser connects to (e.g. "https://cc.example.net" behind a proxy)."""
    secret: SecretStr | None = None
    """Shared with the proxy (Kamailio auth_ephemeral) and TURN (coturn
    static-auth-secret). Unset: derived from secret_key."""
    credential_ttl_seconds: int = Field(default=43200, ge=60, le=7 * 86400)
    ice_servers: list[str] = Field(default_factory=list)
    """STUN/TURN URLs for the browser; TURN gets the same ephemeral credentials."""

    @field_validator("secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("ws_url")
    @classmethod
    def _websocket_url(cls, value: str) -> str:
        if value and not value.startswith(("ws://", "wss://")):
            raise ValueError(f"not a ws:// or wss:// URL: {value!r}")
        return value

    @field_validator("agent_uri")
    @classmethod
    def _agent_uri(cls, value: str) -> str:
        if "{agent_id}" not in value or not value.startswith(("sip:", "sips:")):
            raise ValueError("must be a sip: URI with {agent_id} in it")
        return value

    @field_validator("ice_servers", "gateway_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [url.strip() for url in value.split(",") if url.strip()]
        return value


class RecordingSettings(_Section):
    """Where call recordings go (``[recording]``): a folder, or an S3-compatible store
    that several dialers share; see docs/recording.md."""

    store: Literal["folder", "s3"] = "folder"
    folder: Path | None = None
    """The folder store; unset: ``recordings`` in the instance folder."""
    spool: Path | None = None
    """Where a dialer writes a recording until the call ends; unset: ``recording-spool``
    in the instance folder."""
    s3_endpoint: str = ""
    s3_bucket: str = "recordings"
    s3_region: str = "us-east-1"
    s3_access_key: str = ""
    s3_secret_key: SecretStr | None = None
    s3_timeout_seconds: float = Field(default=10.0, gt=0)
    """Connect and read timeout of each store request: a slow store fails the
    upload (the recording is marked failed), it never holds a call."""
    min_free_mb: int = Field(default=200, ge=0)
    """A recording is not started when the spool's disk has less free than this."""
    queue_frames: int = Field(default=30000, ge=100)
    """Frames (20 ms, one leg) waiting for the writer thread; when it is this far
    behind the newest recording's frame is refused and that recording ends failed."""
    upload_retry_seconds: float = Field(default=30.0, gt=0)
    """A recording the store refused stays in the dialer's spool and is tried
    again after this long, then twice as long each time (at most an hour)."""
    upload_attempts: int = Field(default=12, ge=1)
    """Uploads tried in all (the first included) before the recording is marked failed."""

    @field_validator("s3_secret_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _s3_needs_an_endpoint(self) -> RecordingSettings:
        if self.store == "s3" and not self.s3_endpoint.startswith(("http://", "https://")):
            raise ValueError("store 's3' needs s3_endpoint, an http:// or https:// URL")
        return self


# Settings that lived in [dialer] before [dialer.sip]; their old names still
# work (and win over the new ones, so an old CC_DIALER__... variable keeps its effect).
_MOVED_TO_SIP = {"keepalive_seconds": "keepalive_seconds", "sip_t1_seconds": "t1_seconds"}


class DialerSettings(_Section):
    carrier: Literal["simulated", "sip"] = "simulated"
    trunk_uri: str = ""
    campaign_lease_seconds: float = Field(default=15.0, gt=0)
    trunk_name: str = Field(default="default", min_length=1, max_length=120)
    max_calls: int | None = Field(default=None, ge=1)
    """Customer calls this dialer process has up at once at most (the trunk's
    channels, shared out among its dialers); unset: no limit."""
    max_calls_per_second: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    """New customer calls this dialer process starts a second at most (the
    carrier's CPS limit on the trunk, shared out among its dialers); 0: no limit."""
    agent_phone_hosts: list[str] = Field(default_factory=list)
    """Where agents' desk phones may be (host names, "*.domain", CIDR networks)
    when calls are real (carrier "sip"): customer audio goes nowhere else.
    Extensions (the PBX behind the trunk) and the browser phone always work."""
    simulation: SimulationSettings = SimulationSettings()
    sip: SipSettings = SipSettings()

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not _MOVED_TO_SIP.keys() & data.keys():
            return data
        data = dict(data)
        sip = data.get("sip", {})
        sip = dict(sip) if isinstance(sip, Mapping) else sip.model_dump()
        for old, new in _MOVED_TO_SIP.items():
            if old in data:
                sip[new] = data.pop(old)
        data["sip"] = sip
        return data

    @field_validator("trunk_uri")
    @classmethod
    def _trunk_uri(cls, value: str) -> str:
        return value and check_sip_uri(value)

    @field_validator("agent_phone_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [host.strip() for host in value.split(",") if host.strip()]
        return value

    @field_validator("agent_phone_hosts")
    @classmethod
    def _hosts_or_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            if "/" in entry:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"not a network: {entry!r}") from None
            elif not _HOST_NAME.match(entry.removeprefix("*.")):
                raise ValueError(f"not a host name or address: {entry!r}")
        return value

    def allowed_agent_phone_hosts(self) -> list[str] | None:
        """None where any phone will do (the simulated carrier sends no audio)."""
        return None if self.carrier == "simulated" else self.agent_phone_hosts


class Settings(_Section):
    env: Literal["embedded", "production", "test"] = "embedded"
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = ""
    instance_path: Path = Path("instance")
    load_demo_data: bool | None = None
    """Unset: demo data on the first start of the embedded default, never in production."""
    log_format: Literal["text", "json"] = "text"
    web: WebSettings = WebSettings()
    bus: BusSettings = BusSettings()
    locale: LocaleSettings = LocaleSettings()
    auth: AuthSettings = AuthSettings()
    smtp: SmtpSettings = SmtpSettings()
    webhooks: WebhookSettings = WebhookSettings()
    sms: SmsSettings = SmsSettings()
    dialer: DialerSettings = DialerSettings()
    webphone: WebphoneSettings = WebphoneSettings()
    recording: RecordingSettings = RecordingSettings()

    @property
    def recording_folder(self) -> Path:
        return self.recording.folder or self.instance_path / "recordings"

    @property
    def recording_spool(self) -> Path:
        return self.recording.spool or self.instance_path / "recording-spool"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def wants_demo_data(self) -> bool:
        return self.load_demo_data if self.load_demo_data is not None else not self.is_production

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
    settings.database_url = with_installed_driver(settings.database_url)
    _check_webphone_secret(settings)
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


def _first_problem(exc: ValidationError, prefix: tuple[str, ...] = ()) -> str:
    error = exc.errors()[0]
    loc = [*prefix, *(str(part) for part in error["loc"] if not isinstance(part, int))]
    where = ".".join(loc)
    env_name = ENV_PREFIX + "__".join(loc).upper()
    message = error["msg"].removeprefix("Value error, ")
    return f"setting {where} ({env_name}): {message}"


def sip_settings_with(sip: SipSettings, **changes: Any) -> SipSettings:
    """``sip`` with ``changes`` (None values ignored), validated like the file
    and environment are; a bad value raises :class:`SettingsError`."""
    values = {key: value for key, value in changes.items() if value is not None}
    try:
        return SipSettings.model_validate({**sip.model_dump(by_alias=True), **values})
    except ValidationError as exc:
        raise SettingsError(_first_problem(exc, ("dialer", "sip"))) from None


def _fill_database_url(settings: Settings) -> None:
    if settings.database_url:
        return
    if settings.is_production:
        raise SettingsError("CC_DATABASE_URL must be set in production mode")
    settings.instance_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    database_file = settings.instance_path / "callcenter.db"
    # Created here, readable by its owner only (SQLite's journal files take
    # the same mode); the customers' names and numbers are in it.
    os.close(os.open(database_file, os.O_CREAT | os.O_WRONLY, 0o600))
    settings.database_url = f"sqlite:///{database_file}"


def _check_database_url(url: str) -> None:
    try:
        parsed = make_url(with_installed_driver(url))
    except ArgumentError:
        raise SettingsError(f"CC_DATABASE_URL is not a database URL: {url!r}") from None
    if parsed.get_backend_name() not in SUPPORTED_DATABASES:
        raise SettingsError(
            f"CC_DATABASE_URL uses {parsed.get_backend_name()!r}; "
            f"supported: {', '.join(SUPPORTED_DATABASES)}"
        )


MIN_PRODUCTION_SECRET_KEY = 32


def _check_webphone_secret(settings: Settings) -> None:
    """Kamailio and coturn check the browser phones' credentials with a
    secret they are given; one derived from secret_key they cannot know."""
    phone = settings.webphone
    if settings.is_production and phone.enabled and phone.ws_url and phone.secret is None:
        raise SettingsError(
            "CC_WEBPHONE__SECRET must be set in production when webphone.ws_url names a "
            "proxy (the same secret as Kamailio's auth_ephemeral and coturn's static-auth-secret)"
        )


def _fill_secret_key(settings: Settings) -> None:
    if settings.secret_key:
        if settings.is_production and len(settings.secret_key) < MIN_PRODUCTION_SECRET_KEY:
            raise SettingsError(
                f"CC_SECRET_KEY must be at least {MIN_PRODUCTION_SECRET_KEY} characters in "
                "production (e.g. python3 -c 'import secrets; print(secrets.token_hex(32))')"
            )
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
