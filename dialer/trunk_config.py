"""From settings to a :class:`SipTrunkConfig`: the one place the dialer
(``dialer.embedded.carrier_for``) and ``callcenter call test`` build it."""

from __future__ import annotations

from typing import Any

from callcenter.settings import Settings, SettingsError, check_sip_uri, sip_settings_with
from dialer.sip.sdp import PCMA, PCMU
from dialer.sip.trunk import SipTrunkConfig
from dialer.sip.ua import Timers, UaConfig

CODECS = {"PCMU": PCMU, "PCMA": PCMA}


def trunk_config_from(
    settings: Settings, *, trunk_uri: str | None = None, **overrides: Any
) -> SipTrunkConfig:
    """The trunk as ``settings.dialer`` describe it, with ``overrides`` of
    ``[dialer.sip]`` keys (None values ignored) validated like the settings.

    Raises :class:`SettingsError` (one line) for a bad value or no trunk URI.
    """
    sip = sip_settings_with(settings.dialer.sip, **overrides)
    trunk = trunk_uri or settings.dialer.trunk_uri
    if not trunk:
        raise SettingsError("no SIP trunk: set dialer.trunk_uri (CC_DIALER__TRUNK_URI)")
    try:
        check_sip_uri(trunk)
    except ValueError as exc:
        raise SettingsError(f"trunk: {exc}") from None
    ua = UaConfig(
        trunk_uri=trunk,
        local_host=sip.bind_host,
        local_port=sip.bind_port,
        public_host=sip.public_host,
        public_port=sip.public_port,
        transport=sip.transport,
        outbound_proxy=sip.outbound_proxy,
        username=sip.username,
        password=sip.password.get_secret_value() if sip.password is not None else None,
        realm=sip.realm,
        domain=sip.domain,
        rtp_host=sip.rtp_host,
        rtp_port_min=sip.rtp_port_min,
        rtp_port_max=sip.rtp_port_max,
        codecs=tuple(CODECS[name] for name in sip.codecs),
        dtmf=sip.dtmf,
        session_expires_s=sip.session_expires_seconds,
        min_se_s=sip.min_se_seconds,
        timers=Timers(t1=sip.t1_seconds),
    )
    return SipTrunkConfig(
        ua=ua,
        register=sip.registration,
        register_expires_s=sip.register_expires_seconds,
        keepalive_interval_s=sip.keepalive_seconds or None,
        caller_id=sip.caller_id,
        caller_name=sip.caller_name,
    )
