"""[dialer.sip] settings (CC_DIALER__SIP__*) -> the SIP trunk's configuration,
the same for `callcenter dialer` and `callcenter call test`."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.settings import SettingsError, load_settings
from dialer.embedded import carrier_for
from dialer.sip.trunk import SipTrunk, SipTrunkConfig
from dialer.sip.ua import Timers, UaConfig
from dialer.trunk_config import trunk_config_from

SECRET = "pa55-w0rd-not-for-logs"


def settings_from(tmp_path: Path, **environ: str):
    return load_settings(environ={"CC_INSTANCE_PATH": str(tmp_path), **environ})


def test_environment_to_trunk_configuration(tmp_path: Path) -> None:
    settings = settings_from(
        tmp_path,
        CC_DIALER__CARRIER="sip",
        CC_DIALER__TRUNK_URI="sip:trunk.example:5080",
        CC_DIALER__SIP__BIND_HOST="10.0.0.5",
        CC_DIALER__SIP__BIND_PORT="5060",
        CC_DIALER__SIP__PUBLIC_HOST="203.0.113.7",
        CC_DIALER__SIP__PUBLIC_PORT="15060",
        CC_DIALER__SIP__TRANSPORT="tcp",
        CC_DIALER__SIP__OUTBOUND_PROXY="sip:edge.example:5060;transport=tcp",
        CC_DIALER__SIP__USERNAME="dialer",
        CC_DIALER__SIP__PASSWORD=SECRET,
        CC_DIALER__SIP__REALM="trunk.example",
        CC_DIALER__SIP__DOMAIN="calls.example",
        CC_DIALER__SIP__REGISTER="true",
        CC_DIALER__SIP__REGISTER_EXPIRES_SECONDS="600",
        CC_DIALER__SIP__KEEPALIVE_SECONDS="0",
        CC_DIALER__SIP__T1_SECONDS="0.25",
        CC_DIALER__SIP__RTP_HOST="10.0.0.6",
        CC_DIALER__SIP__RTP_PORT_MIN="16000",
        CC_DIALER__SIP__RTP_PORT_MAX="16999",
        CC_DIALER__SIP__CODECS="PCMA",
        CC_DIALER__SIP__DTMF="false",
        CC_DIALER__SIP__SESSION_EXPIRES_SECONDS="0",
        CC_DIALER__SIP__MIN_SE_SECONDS="120",
        CC_DIALER__SIP__CALLER_ID="+982100000000",
        CC_DIALER__SIP__CALLER_NAME="Sales",
    )
    expected = SipTrunkConfig(
        ua=UaConfig(
            trunk_uri="sip:trunk.example:5080",
            local_host="10.0.0.5",
            local_port=5060,
            public_host="203.0.113.7",
            public_port=15060,
            transport="tcp",
            outbound_proxy="sip:edge.example:5060;transport=tcp",
            username="dialer",
            password=SECRET,
            realm="trunk.example",
            domain="calls.example",
            rtp_host="10.0.0.6",
            rtp_port_min=16000,
            rtp_port_max=16999,
            codecs=(8,),
            dtmf=False,
            session_expires_s=0,
            min_se_s=120,
            timers=Timers(t1=0.25),
        ),
        register=True,
        register_expires_s=600,
        keepalive_interval_s=None,
        caller_id="+982100000000",
        caller_name="Sales",
    )
    assert trunk_config_from(settings) == expected
    carrier = carrier_for(settings)
    assert isinstance(carrier, SipTrunk) and carrier.config == expected


def test_defaults_bind_everywhere_and_advertise_what_reaches_the_trunk(tmp_path: Path) -> None:
    config = trunk_config_from(settings_from(tmp_path, CC_DIALER__TRUNK_URI="sip:10.1.2.3"))
    assert config.ua == UaConfig(trunk_uri="sip:10.1.2.3")
    assert (config.ua.local_host, config.ua.public_host, config.ua.transport) == (
        "0.0.0.0",
        None,
        "udp",
    )
    assert (config.register, config.keepalive_interval_s, config.caller_id) == (
        False,
        30.0,
        "anonymous",
    )


def test_the_old_names_still_work(tmp_path: Path) -> None:
    settings = settings_from(
        tmp_path, CC_DIALER__KEEPALIVE_SECONDS="5", CC_DIALER__SIP_T1_SECONDS="0.1"
    )
    assert (settings.dialer.sip.keepalive_seconds, settings.dialer.sip.t1_seconds) == (5, 0.1)


def test_the_password_is_in_no_repr(tmp_path: Path) -> None:
    settings = settings_from(
        tmp_path, CC_DIALER__TRUNK_URI="sip:10.1.2.3", CC_DIALER__SIP__PASSWORD=SECRET
    )
    config = trunk_config_from(settings)
    assert config.ua.password == SECRET
    for shown in (repr(settings), str(settings), repr(config), str(config.ua)):
        assert SECRET not in shown


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"CC_DIALER__SIP__BIND_PORT": "70000"},
            "setting dialer.sip.bind_port (CC_DIALER__SIP__BIND_PORT): "
            "Input should be less than or equal to 65535",
        ),
        (
            {"CC_DIALER__SIP__RTP_PORT_MIN": "20000", "CC_DIALER__SIP__RTP_PORT_MAX": "10000"},
            "setting dialer.sip (CC_DIALER__SIP): rtp_port_min (20000) must be below "
            "rtp_port_max (10000)",
        ),
        ({"CC_DIALER__SIP__CODECS": "PCMU,G729"}, "CC_DIALER__SIP__CODECS): Input should be"),
        ({"CC_DIALER__SIP__CODECS": ""}, "CC_DIALER__SIP__CODECS): List should have at least 1"),
        ({"CC_DIALER__SIP__CODECS": "PCMA,PCMA"}, "a codec is listed twice"),
        ({"CC_DIALER__SIP__TRANSPORT": "tls"}, "CC_DIALER__SIP__TRANSPORT): Input should be"),
        ({"CC_DIALER__SIP__OUTBOUND_PROXY": "proxy.example"}, "not a SIP URI"),
        ({"CC_DIALER__TRUNK_URI": "sip:trunk.example:99999"}, "port out of range"),
        ({"CC_DIALER__SIP__BIND_HOST": "eth0"}, "not an IPv4 address: 'eth0'"),
        ({"CC_DIALER__SIP__PUBLIC_HOST": "a b"}, "not a host name or IPv4 address"),
        ({"CC_DIALER__SIP__CALLER_ID": "021 <x>"}, "not usable as the user part"),
        ({"CC_DIALER__SIP__SESSION_EXPIRES_SECONDS": "60"}, "must be 0 (off) or at least"),
        ({"CC_DIALER__SIP__KEEPALIVE_SECONDS": "-1"}, "greater than or equal to 0"),
    ],
)
def test_bad_values_stop_with_one_clear_line(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from(tmp_path, **environ)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_overrides_are_checked_like_settings(tmp_path: Path) -> None:
    settings = settings_from(tmp_path, CC_DIALER__TRUNK_URI="sip:10.1.2.3")
    config = trunk_config_from(settings, bind_host="10.1.2.4", register=True, caller_name=None)
    assert (config.ua.local_host, config.register) == ("10.1.2.4", True)
    with pytest.raises(SettingsError, match=r"dialer\.sip\.public_port .*less than or equal"):
        trunk_config_from(settings, public_port=65536)
    with pytest.raises(SettingsError, match="trunk: not a SIP URI"):
        trunk_config_from(settings, trunk_uri="http://10.1.2.3")


def test_no_trunk_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"no SIP trunk: set dialer\.trunk_uri"):
        trunk_config_from(settings_from(tmp_path))
