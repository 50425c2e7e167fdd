"""Debian's kamailio as a real SIP peer: a record-routing proxy, or a registrar
that asks for digest credentials and relays authenticated INVITEs on."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import stop_process_group

_PROLOGUE = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
listen=udp:{host}:{port}
mpath="{modules}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
"""

# Requests inside a dialog follow its route set; a CANCEL its transaction.
_IN_DIALOG = """\
    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
    if (has_totag()) {
        if (loose_route()) { t_relay(); exit; }
        if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
"""

PROXY_ROUTE = """
request_route {{
{in_dialog}    remove_hf("Route");
    if (is_method("INVITE")) {{ record_route(); }}
    t_relay();
}}
"""

# REGISTER needs the user's digest credentials (401), so does every new
# INVITE (407); an authenticated INVITE is record-routed to the carrier.
REGISTRAR_ROUTE = """
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
modparam("usrloc", "db_mode", 0)
modparam("registrar", "default_expires", {expires})
modparam("registrar", "min_expires", 1)
modparam("registrar", "max_expires", {expires})
request_route {{
{in_dialog}    if (is_method("OPTIONS")) {{ {options} }}
    if (is_method("REGISTER")) {{
        if (!pv_www_authenticate("{realm}", "{password}", "0") || $au != "{user}") {{
            www_challenge("{realm}", "1");
            exit;
        }}
        consume_credentials();
        if (!save("location")) {{ sl_reply_error(); }}
        exit;
    }}
    if (is_method("INVITE")) {{
        if (!pv_proxy_authenticate("{realm}", "{password}", "0") || $au != "{user}") {{
            proxy_challenge("{realm}", "1");
            exit;
        }}
        consume_credentials();
        remove_hf("Route");
        record_route();
        $du = "sip:{carrier}";
        t_relay();
        exit;
    }}
    sl_send_reply("405", "Method Not Allowed");
}}
"""


@dataclass
class Kamailio:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    log: Path

    @property
    def uri(self) -> str:
        return f"sip:{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop kamailio and its worker processes (its own process group)."""
        stop_process_group(self.process)


def modules_dir() -> str:
    return next(
        (str(p) for p in Path("/usr/lib").glob("*/kamailio/modules") if (p / "tm.so").exists()),
        "/usr/lib/x86_64-linux-gnu/kamailio/modules",
    )


def proxy_config(host: str, port: int) -> str:
    return _PROLOGUE.format(host=host, port=port, modules=modules_dir()) + PROXY_ROUTE.format(
        in_dialog=_IN_DIALOG
    )


def registrar_config(
    host: str,
    port: int,
    *,
    carrier: str,
    realm: str = "registrar.test",
    user: str = "dialer",
    password: str = "s3cret",
    expires: int = 60,
    answer_options: bool = True,
) -> str:
    """``answer_options=False``: OPTIONS are dropped unanswered, as many trunks do."""
    options = 'sl_send_reply("200", "OK"); exit;' if answer_options else "drop;"
    route = REGISTRAR_ROUTE.format(
        realm=realm,
        user=user,
        password=password,
        carrier=carrier,
        expires=expires,
        options=options,
        in_dialog=_IN_DIALOG,
    )
    return _PROLOGUE.format(host=host, port=port, modules=modules_dir()) + route


def start_kamailio(
    config: str,
    workdir: Path,
    host: str,
    port: int,
    wrapper: Sequence[str] = (),
    args: Sequence[str] = (),
) -> Kamailio:
    """Run kamailio (inside ``wrapper``, e.g. ``ip netns exec NS``) until it answers;
    ``args`` go on its command line (e.g. ``-A NAME=VALUE`` defines).

    The probe is an INFO (some configurations drop OPTIONS on purpose)."""
    binary = shutil.which("kamailio") or (
        "/usr/sbin/kamailio" if Path("/usr/sbin/kamailio").exists() else None
    )
    if binary is None:
        pytest.fail("kamailio is not installed (Debian package kamailio)")
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "kamailio.cfg"
    cfg.write_text(config)
    log = workdir / "kamailio.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                *wrapper,
                binary,
                "-f",
                str(cfg),
                "-DD",
                "-E",
                "-Y",
                str(workdir),
                "-w",
                str(workdir),
                *args,
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    kamailio = Kamailio(process, host, port, log)
    try:
        _wait_until_it_answers(kamailio)
    except BaseException:
        kamailio.stop()
        raise
    return kamailio


def _wait_until_it_answers(kamailio: Kamailio, limit_s: float = 10.0) -> None:
    deadline = time.monotonic() + limit_s
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.1)
        probe.bind(("0.0.0.0", 0))
        local_port = probe.getsockname()[1]
        while time.monotonic() < deadline:
            if kamailio.process.poll() is not None:
                pytest.fail(
                    f"kamailio exited ({kamailio.process.returncode}): "
                    f"{kamailio.log.read_text()[-2000:]}"
                )
            probe.sendto(_probe(kamailio, local_port), (kamailio.host, kamailio.port))
            try:
                if probe.recv(4096).startswith(b"SIP/2.0"):
                    return
            except (TimeoutError, ConnectionRefusedError):
                continue
    pytest.fail(f"kamailio at {kamailio.uri} did not answer: {kamailio.log.read_text()[-2000:]}")


def _probe(kamailio: Kamailio, local_port: int) -> bytes:
    return (
        f"INFO {kamailio.uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK-probe-{time.monotonic_ns()}\r\n"
        "Max-Forwards: 1\r\n"
        f"From: <sip:probe@127.0.0.1>;tag=probe\r\nTo: <{kamailio.uri}>\r\n"
        f"Call-ID: probe-{time.monotonic_ns()}@test\r\nCSeq: 1 INFO\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
