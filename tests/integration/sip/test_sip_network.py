"""`callcenter call test` against a trunk on another host: sipp in a network
namespace at 10.231.12.2, the dialer on this host (10.231.12.1), started
through the `callcenter` entry point with the dialer's settings."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.sip.conftest import Sipp
from tests.integration.sip.netns import Netns

pytestmark = pytest.mark.sipp

NUMBER = "09121234567"
# Advertised, never configured anywhere: the namespace has no route to it,
# so nothing sent there leaves the veth pair.
PUBLIC_HOST = "10.231.13.7"
SECRET = "s3cret"


def call_test(
    tmp_path: Path, *args: str, stdin: str = "", **settings: str
) -> subprocess.CompletedProcess[str]:
    """`callcenter call test NUMBER ARGS` as its own process; ``settings`` become
    CC_ variables (``dialer__sip__t1_seconds="4"``). T1 is 0.1 s unless given."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CC_")}
    env["CC_INSTANCE_PATH"] = str(tmp_path / "instance")
    env["CC_DIALER__SIP__T1_SECONDS"] = "0.1"
    env.update({f"CC_{name.upper()}": value for name, value in settings.items()})
    return subprocess.run(
        [sys.executable, "-m", "callcenter.cli", "call", "test", NUMBER, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def lines_from_us(peer: Sipp, prefix: str) -> list[str]:
    """The lines starting with ``prefix`` in the requests sipp received from us."""
    return [
        line.strip()
        for message in peer.received()
        if not message.startswith("SIP/2.0")
        for line in message.splitlines()
        if line.strip().startswith(prefix)
    ]


def test_with_default_settings_a_trunk_on_another_host_answers(netns, sipp, tmp_path):
    ns = netns()
    peer = sipp("uas_answer_rr_remote_bye.xml", netns=ns)
    result = call_test(tmp_path, "--trunk", peer.uri)
    assert peer.wait() == 0, peer.errors()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "outcome: answered (SIP 200 remote hangup)" in result.stdout
    log = peer.messages()
    assert f"INVITE sip:+989121234567@{ns.peer_address}:5060 SIP/2.0" in log
    vias = lines_from_us(peer, "Via:")
    assert vias and all(via.startswith(f"Via: SIP/2.0/UDP {ns.host_address}:") for via in vias)
    assert lines_from_us(peer, "c=") == [f"c=IN IP4 {ns.host_address}"]
    # Every message is printed in full, both ways.
    assert f"-> {ns.peer_address}:5060 UDP  INVITE sip:+989121234567@" in result.stdout
    assert f"<- {ns.peer_address}:5060 UDP  BYE " in result.stdout
    assert f"    Contact: <sip:dialer@{ns.host_address}:" in result.stdout


def test_a_busy_trunk_makes_the_command_fail(netns, sipp, tmp_path):
    ns = netns()
    peer = sipp("uas_final.xml", keys={"status": "486", "reason": "Busy Here"}, netns=ns)
    result = call_test(tmp_path, "--trunk", peer.uri)
    assert peer.wait() == 0, peer.errors()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "outcome: busy (SIP 486 Busy Here)" in result.stdout


# A stateless relay in front of sipp, as a trunk's edge proxy would be. Like
# any RFC 3581 server it writes into our Via the address our INVITE came
# from (received=) and its port (rport=), and sends the answers there.
EDGE_PROXY_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
listen=udp:{host}:5060
request_route {{
    forward("{host}", {sipp_port});
}}
"""


def start_edge_proxy(ns: Netns, workdir: Path, sipp_port: int) -> None:
    binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
    if not Path(binary).exists():
        pytest.fail("kamailio is not installed (Debian package kamailio)")
    workdir.mkdir()
    cfg = workdir / "kamailio.cfg"
    cfg.write_text(EDGE_PROXY_CFG.format(host=ns.peer_address, sipp_port=sipp_port))
    log = (workdir / "kamailio.log").open("wb")
    process = ns.popen(
        [binary, "-f", str(cfg), "-DD", "-E", "-Y", str(workdir), "-w", str(workdir)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while not ns.listening(5060):
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"kamailio did not start: {(workdir / 'kamailio.log').read_text()[-2000:]}")
        time.sleep(0.02)


def test_behind_nat_the_public_address_is_advertised_and_the_nat_noticed(netns, sipp, tmp_path):
    ns = netns()
    peer = sipp("uas_final.xml", keys={"status": "486", "reason": "Busy Here"}, netns=ns, port=5062)
    start_edge_proxy(ns, tmp_path / "kamailio", peer.port)
    result = call_test(
        tmp_path,
        "--trunk",
        f"sip:{ns.peer_address}:5060",
        "--bind",
        ns.host_address,
        "--public-address",
        f"{PUBLIC_HOST}:40000",
    )
    assert peer.wait() == 0, peer.errors()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "outcome: busy (SIP 486 Busy Here)" in result.stdout
    # Through the proxy the INVITE carries its Via on top of ours.
    proxy_via = f"Via: SIP/2.0/UDP {ns.peer_address};"
    ours = [via for via in lines_from_us(peer, "Via:") if not via.startswith(proxy_via)]
    assert ours and all(via.startswith(f"Via: SIP/2.0/UDP {PUBLIC_HOST}:40000;") for via in ours)
    assert lines_from_us(peer, "Contact:") == [f"Contact: <sip:dialer@{PUBLIC_HOST}:40000>"]
    assert lines_from_us(peer, "c=") == [f"c=IN IP4 {PUBLIC_HOST}"]
    (origin,) = lines_from_us(peer, "o=")
    assert origin.endswith(f" IN IP4 {PUBLIC_HOST}")
    # The proxy answered to where the INVITE really came from, and said so.
    assert f";received={ns.host_address};" in result.stdout
    assert f"NAT: the trunk sees us at {ns.host_address}:" in result.stdout
    assert f"we advertise {PUBLIC_HOST}:40000" in result.stdout
    assert "NAT detected" in result.stderr


def test_a_send_the_os_refuses_fails_at_once_naming_the_cause(netns, tmp_path):
    ns = netns()  # the trunk's address is on a link of ours; nothing is sent anyway
    result = call_test(
        tmp_path,
        "--trunk",
        f"sip:{ns.peer_address}:5060",
        "--bind",
        "127.0.0.1",
        "--username",
        "dialer",
        "--password-stdin",
        stdin=SECRET + "\n",
        # Timer B would be 64 x 4 s: waiting for it would run into the 60 s timeout.
        dialer__sip__t1_seconds="4",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        f"outcome: failed (SIP - transport error: [Errno 22] Invalid argument sending from "
        f"127.0.0.1 to {ns.peer_address}:5060: the bind address cannot reach "
        f"{ns.peer_address}:5060; set dialer.sip.bind_host / public_host)"
    ) in result.stdout
    assert "Timer B" not in result.stdout
    assert SECRET not in result.stdout + result.stderr


def test_tcp_answer_remote_bye_and_caller_name(netns, sipp, tmp_path):
    ns = netns()
    peer = sipp("uas_answer_rr_remote_bye.xml", netns=ns, transport="tcp")
    result = call_test(
        tmp_path,
        "--trunk",
        peer.uri,
        "--transport",
        "tcp",
        "--caller-id",
        "+982100000000",
        "--caller-name",
        'Sales "East" \\ Team\r\nX-Injected: yes',
    )
    assert peer.wait() == 0, peer.errors()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "outcome: answered (SIP 200 remote hangup)" in result.stdout
    log = peer.messages()
    assert f"INVITE sip:+989121234567@{ns.peer_address}:5060;transport=tcp SIP/2.0" in log
    vias = lines_from_us(peer, "Via:")
    assert vias and all(via.startswith(f"Via: SIP/2.0/TCP {ns.host_address}:") for via in vias)
    (contact,) = lines_from_us(peer, "Contact:")
    assert contact.startswith(f"Contact: <sip:dialer@{ns.host_address}:")
    assert contact.endswith(";transport=tcp>")
    (from_line,) = {line for line in lines_from_us(peer, "From:") if "+982100000000" in line}
    assert from_line.startswith(
        'From: "Sales \\"East\\" \\\\ TeamX-Injected: yes" <sip:+982100000000@'
    ), from_line
    assert "X-Injected" not in [line.split(":")[0] for line in log.splitlines()]
    # Our 200 to the trunk's BYE went back over the connection it came on.
    assert f"-> {ns.peer_address}:5060 TCP  200 OK" in result.stdout


def test_tcp_busy(netns, sipp, tmp_path):
    ns = netns()
    peer = sipp(
        "uas_final.xml", keys={"status": "486", "reason": "Busy Here"}, netns=ns, transport="tcp"
    )
    result = call_test(tmp_path, "--trunk", peer.uri, "--transport", "tcp")
    assert peer.wait() == 0, peer.errors()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "outcome: busy (SIP 486 Busy Here)" in result.stdout
    assert "(retransmission)" not in result.stdout  # no Timer A over TCP


def test_tcp_digest_challenge_with_settings_and_password_from_stdin(netns, sipp, tmp_path):
    ns = netns()
    peer = sipp("uas_auth_401.xml", netns=ns, transport="tcp")
    result = call_test(
        tmp_path,
        "--password-stdin",
        stdin=SECRET + "\n",
        dialer__trunk_uri=peer.uri,
        dialer__sip__transport="tcp",
        dialer__sip__username="dialer",
        dialer__sip__realm="sipp.test",
    )
    assert peer.wait() == 0, peer.errors()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "<- 10.231.12.2:5060 TCP  401 Unauthorized" in result.stdout
    assert 'Authorization: Digest username="dialer", realm="sipp.test"' in result.stdout
    assert SECRET not in result.stdout + result.stderr


def test_a_challenge_for_another_realm_is_not_answered(netns, sipp, tmp_path):
    ns = netns()
    peer = sipp("uas_auth_401.xml", netns=ns)
    result = call_test(
        tmp_path,
        "--trunk",
        peer.uri,
        "--username",
        "dialer",
        "--realm",
        "other.example",
        "--password-stdin",
        stdin=SECRET + "\n",
    )
    # sipp waits for a second INVITE that never comes; the fixture stops it.
    assert result.returncode == 1, result.stdout + result.stderr
    assert "outcome: failed (SIP 401 Unauthorized)" in result.stdout
    assert "Authorization: Digest" not in result.stdout


def test_a_tcp_trunk_that_refuses_the_connection_fails_at_once(netns, tmp_path):
    ns = netns()  # nothing listens on 10.231.12.2:5070
    result = call_test(
        tmp_path,
        "--trunk",
        f"sip:{ns.peer_address}:5070",
        "--transport",
        "tcp",
        dialer__sip__t1_seconds="4",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        f"to {ns.peer_address}:5070: nothing accepts SIP over TCP there (connection refused)"
    ) in result.stdout
    assert "outcome: failed (SIP - transport error: [Errno 111] Connect call failed" in (
        result.stdout
    )


def test_a_bind_address_this_host_does_not_have_is_named(tmp_path):
    result = call_test(tmp_path, "--trunk", "sip:127.0.0.1:5060", "--bind", f"{PUBLIC_HOST}:5060")
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        f"cannot start SIP on {PUBLIC_HOST}:5060 toward sip:127.0.0.1:5060: "
        "[Errno 99] Cannot assign requested address"
    ) in result.stdout


def test_a_bad_flag_value_is_one_clear_line(tmp_path):
    result = call_test(tmp_path, "--trunk", "sip:127.0.0.1:5060", "--public-address", "a b:5060")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (
        "callcenter: configuration error: setting dialer.sip.public_host "
        "(CC_DIALER__SIP__PUBLIC_HOST): not a host name or IPv4 address: 'a b'"
    )
