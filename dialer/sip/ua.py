"""SIP user agent core: transactions (RFC 3261 section 17) and the UAC call/dialog.

Everything runs on one asyncio loop over one transport (UDP by default, or
TCP). The pieces:

* :class:`InviteClientTransaction` - Timer A retransmits the INVITE over UDP
  until a response arrives, Timer B (64*T1) gives up in the Calling state;
  every 3xx-6xx final response (and each retransmission of it) is ACKed here
  with the INVITE's branch.
* :meth:`UserAgent.request` - non-INVITE client transactions (BYE, CANCEL,
  OPTIONS, REGISTER) with Timer E retransmission (UDP) and Timer F timeout.
* A send the OS refuses (or a TCP connection that cannot be opened) fails the
  transaction at once with the cause, instead of waiting for Timer B/F.
* Server side - requests are answered once and the response is cached by
  branch, so a retransmitted BYE or re-INVITE gets the same answer again.
* :class:`Call` - one INVITE and the dialog it creates. Outbound: digest auth
  on 401/407, CANCEL at ring timeout (only once a provisional response has
  arrived, RFC 3261 9.1), ACK for 2xx as its own transaction sent along the
  route set and repeated for every 2xx retransmission, BYE either way,
  re-INVITE/UPDATE answered with our SDP. Inbound (a customer ringing our
  number back, offered to :attr:`UserAgent.on_invite`): answered with 200 OK
  and our SDP answer, the 2xx repeated until the caller's ACK (RFC 3261
  13.3.1.4); the same dialog code carries it from there.

Addresses: we bind ``local_host`` (default every interface) and advertise, in
Via, Contact and SDP, ``public_host`` or else the bound address, or with a
wildcard bind the address the kernel sends from toward the trunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from dialer.carrier import Outcome, TrunkHealth, utc_now
from dialer.sip import auth
from dialer.sip.media import peer_media
from dialer.sip.message import (
    SipMessage,
    build_response,
    from_header,
    header_param,
    new_branch,
    new_tag,
    uri_host_port,
    uri_of,
    uri_params,
    with_tag,
)
from dialer.sip.outcomes import outcome_for_status
from dialer.sip.rtp import RtpEndpoint
from dialer.sip.rtp_ports import RtpPortError, RtpPortRange
from dialer.sip.sdp import LocalSession, SdpError, check_codecs
from dialer.sip.session_timer import SessionTimer, answer_request
from dialer.sip.tcp import TcpTransport, is_wildcard
from dialer.sip.transport import Address, SipTransport, TraceHook, UdpTransport

log = logging.getLogger(__name__)

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, NOTIFY"


@dataclass(frozen=True)
class Timers:
    """RFC 3261 timer values in seconds; tests shrink T1 to make Timer B quick."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0

    @property
    def b(self) -> float:
        return 64 * self.t1


@dataclass(frozen=True)
class UaConfig:
    trunk_uri: str = "sip:127.0.0.1:5060"
    local_host: str = "0.0.0.0"  # the SIP bind address
    local_port: int = 0  # 0: any free port
    public_host: str | None = None  # advertised in Via, Contact, SDP; see the module doc
    public_port: int | None = None  # advertised port; default the bound one
    transport: Literal["udp", "tcp"] = "udp"
    outbound_proxy: str | None = None  # "sip:host:port"; preloaded as a loose Route
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    realm: str | None = None  # answer only challenges for this realm
    domain: str | None = None  # From/To host; defaults to the trunk host
    media_host: str | None = None  # address put in SDP; default rtp_host, then the advertised host
    rtp_host: str | None = None  # RTP bind address; defaults to local_host
    rtp_port_min: int = 10000
    rtp_port_max: int = 20000
    codecs: tuple[int, ...] = (0, 8)
    dtmf: bool = True
    session_expires_s: int = 1800
    min_se_s: int = 90
    timers: Timers = field(default_factory=Timers)
    user_agent: str = "callcenter-dialer/0.1"
    unhealthy_after: int = 3  # consecutive transaction timeouts toward the trunk


class TransactionTimeout(TimeoutError):
    """Timer B or Timer F fired."""


class TransportError(TransactionTimeout):
    """The OS refused to send the request (or to connect): the transaction failed
    at once. A :class:`TransactionTimeout` so callers that only need to know that
    a transaction failed handle both alike."""


@dataclass(frozen=True)
class _Failure:
    reason: str


def route_source(dest: Address) -> str:
    """The address the kernel would send from toward ``dest`` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(dest)
        return str(probe.getsockname()[0])


class InviteClientTransaction:
    def __init__(self, ua: UserAgent, invite: SipMessage, dest: Address) -> None:
        self.ua = ua
        self.invite = invite
        self.dest = dest
        self.branch = invite.top_via_branch
        self.responses: asyncio.Queue[SipMessage | _Failure] = asyncio.Queue()
        self.state = "calling"
        self.ack_2xx: tuple[SipMessage, bytes, Address] | None = None
        self.confirmed_tag: str | None = None
        self.on_stray_2xx: Callable[[SipMessage], None] | None = None
        self._ack_non_2xx: tuple[SipMessage, bytes] | None = None
        self._timer = asyncio.get_running_loop().create_task(self._retransmit())

    async def _retransmit(self) -> None:
        timers = self.ua.config.timers
        transport = self.ua.transport
        data = self.invite.to_bytes()
        error = transport.send_raw(data, self.dest, self.invite)
        interval, waited = (timers.b if transport.reliable else timers.t1), 0.0
        while error is None and self.state == "calling" and waited < timers.b:
            step = min(interval, timers.b - waited)
            await asyncio.sleep(step)
            waited += step
            if self.state != "calling":
                return
            if waited < timers.b:
                error = transport.send_raw(data, self.dest, self.invite, retransmission=True)
                interval *= 2
        if error is not None:
            self.fail(error)
        elif self.state == "calling":
            self.state = "terminated"
            self.ua.note_timeout(self.dest)
            self.responses.put_nowait(_Failure("Timer B: no response"))

    def fail(self, reason: str) -> None:
        """The transport could not carry the INVITE: end the transaction now."""
        if self.state != "calling":
            return
        self.state = "terminated"
        self.ua.note_transport_error(self.dest, reason)
        self.responses.put_nowait(_Failure(reason))

    def on_response(self, resp: SipMessage) -> None:
        self.ua.note_alive(self.dest)
        status = resp.status or 0
        if status < 200:
            if self.state == "calling":
                self.state = "proceeding"
            if self.state == "proceeding":
                self.responses.put_nowait(resp)
        elif status < 300:
            self._on_2xx(resp)
        else:
            if self._ack_non_2xx is None:
                self.state = "completed"
                ack = self._build_ack(resp)
                self._ack_non_2xx = (ack, ack.to_bytes())
                self.ua.transport.send_raw(self._ack_non_2xx[1], self.dest, ack)
                self.responses.put_nowait(resp)
            else:
                ack, data = self._ack_non_2xx
                self.ua.transport.send_raw(data, self.dest, ack, retransmission=True)

    def _on_2xx(self, resp: SipMessage) -> None:
        to_tag = header_param(resp.get("To") or "", "tag")
        if self.state in ("calling", "proceeding"):
            self.state = "accepted"
            self.responses.put_nowait(resp)
        elif self.ack_2xx is not None and to_tag == self.confirmed_tag:
            ack, data, dest = self.ack_2xx
            self.ua.transport.send_raw(data, dest, ack, retransmission=True)
        elif self.on_stray_2xx is not None and to_tag != self.confirmed_tag:
            self.on_stray_2xx(resp)

    def _build_ack(self, resp: SipMessage) -> SipMessage:
        """ACK for a non-2xx final response (RFC 3261 17.1.1.3)."""
        ack = SipMessage(method="ACK", uri=self.invite.uri)
        ack.add("Via", self.invite.get_all("Via")[0])
        for route in self.invite.get_all("Route"):
            ack.add("Route", route)
        ack.add("Max-Forwards", "70")
        ack.add("From", self.invite.get("From") or "")
        ack.add("To", resp.get("To") or "")
        ack.add("Call-ID", self.invite.call_id)
        ack.add("CSeq", f"{self.invite.cseq[0]} ACK")
        return ack

    def stop(self) -> None:
        self.state = "terminated"
        self._timer.cancel()


class _NonInviteTransaction:
    def __init__(self, dest: Address) -> None:
        self.dest = dest
        self.final: asyncio.Future[SipMessage] = asyncio.get_running_loop().create_future()
        self.provisional = False

    def on_response(self, resp: SipMessage) -> None:
        if (resp.status or 0) < 200:
            self.provisional = True
        elif not self.final.done():
            self.final.set_result(resp)

    def fail(self, reason: str) -> None:
        if not self.final.done():
            self.final.set_exception(TransportError(reason))


class UserAgent:
    """Owns the transport, the transaction tables, the calls and the trunk's health."""

    def __init__(self, config: UaConfig, trace: TraceHook | None = None) -> None:
        check_codecs(config.codecs)
        self.config = config
        self.rtp_ports = RtpPortRange(
            config.rtp_host or config.local_host, config.rtp_port_min, config.rtp_port_max
        )
        self._trace = trace
        self.transport: SipTransport
        self.calls: dict[str, Call] = {}
        self._invites: dict[str, InviteClientTransaction] = {}
        self._non_invites: dict[tuple[str, str], _NonInviteTransaction] = {}
        self._responses: dict[tuple[str, str, str], tuple[SipMessage, bytes, Address]] = {}
        self._trunk_addr: Address | None = None
        self._timeouts = 0
        self._health = TrunkHealth(healthy=True, reason="not yet used", since=utc_now())
        self._tasks: set[asyncio.Task[Any]] = set()
        self.last_failure_at: float | None = None
        """time.monotonic() of the last request the trunk left unanswered."""
        self._advertised: Address = ("", 0)
        self._via_prefix = ""
        self._contact = ""
        self._nat_checked = False
        self.seen_as: Address | None = None
        self.on_invite: InviteHandler | None = None

    async def start(self) -> None:
        cfg = self.config
        self._trunk_addr = await resolve(cfg.outbound_proxy or cfg.trunk_uri)
        if cfg.transport == "tcp":
            self.transport = await TcpTransport.open(
                cfg.local_host,
                cfg.local_port,
                self._on_message,
                self._on_unreachable,
                self._trace,
                connect_timeout_s=cfg.timers.b / 2,
            )
        else:
            self.transport = await UdpTransport.open(
                cfg.local_host, cfg.local_port, self._on_message, self._trace
            )
        host, port = self._advertised = self._advertise()
        self._via_prefix = f"SIP/2.0/{self.transport.name} {host}:{port};branch="
        suffix = ";transport=tcp" if cfg.transport == "tcp" else ""
        self._contact = f"<sip:dialer@{host}:{port}{suffix}>"

    def _advertise(self) -> Address:
        cfg = self.config
        bound_host, bound_port = self.transport.local_address
        port = cfg.public_port or bound_port
        if cfg.public_host:
            return cfg.public_host, port
        if not is_wildcard(cfg.local_host):
            return bound_host, port
        try:
            return route_source(self.trunk_address), port
        except OSError as exc:
            # Every send toward the trunk will fail with this cause too, named.
            log.warning(
                "no route to the trunk %s:%s (%s); advertising %s",
                *self.trunk_address,
                exc,
                bound_host,
            )
            return bound_host, port

    async def stop(self) -> None:
        for call in list(self.calls.values()):
            await call.hang_up()
        for tx in self._invites.values():
            tx.stop()
        self.transport.close()

    @property
    def local_address(self) -> Address:
        """The bound address (``0.0.0.0`` with a wildcard bind)."""
        return self.transport.local_address

    @property
    def advertised_address(self) -> Address:
        """What we put in Via sent-by and Contact."""
        return self._advertised

    @property
    def media_host(self) -> str:
        return self.config.media_host or self._advertised[0]

    @property
    def nat_detected(self) -> bool:
        """The trunk saw our requests come from another address than we advertise
        (Via received/rport, RFC 3581); :attr:`seen_as` is that address."""
        return self.seen_as is not None

    @property
    def trunk_address(self) -> Address:
        assert self._trunk_addr is not None
        return self._trunk_addr

    def trunk_target(self, user: str | None = None) -> str:
        """A Request-URI at the trunk (for ``user``, or the trunk itself: REGISTER,
        OPTIONS), over our transport."""
        host, port = uri_host_port(self.config.trunk_uri)
        suffix = ";transport=tcp" if self.config.transport == "tcp" else ""
        who = f"{user}@" if user else ""
        return f"sip:{who}{host}:{port}{suffix}"

    # health -----------------------------------------------------------------
    def health(self) -> TrunkHealth:
        return self._health

    def note_timeout(self, dest: Address) -> None:
        if dest != self._trunk_addr:
            return
        self._timeouts += 1
        self.last_failure_at = time.monotonic()
        if self._timeouts >= self.config.unhealthy_after and self._health.healthy:
            reason = f"trunk {dest[0]}:{dest[1]} did not answer {self._timeouts} requests in a row"
            log.error("trunk unhealthy: %s", reason)
            self._health = TrunkHealth(healthy=False, reason=reason, since=utc_now())

    def note_transport_error(self, dest: Address, reason: str) -> None:
        """A send toward the trunk the OS refused: nothing will reach it until the
        cause is fixed, so the trunk is unhealthy at once (dialing holds)."""
        if dest == self._trunk_addr:
            self.mark_unhealthy(reason)

    def mark_unhealthy(self, reason: str) -> None:
        self.last_failure_at = time.monotonic()
        if self._health.healthy:
            log.error("trunk unhealthy: %s", reason)
            self._health = TrunkHealth(healthy=False, reason=reason, since=utc_now())

    def note_alive(self, dest: Address) -> None:
        if dest != self._trunk_addr:
            return
        self._timeouts = 0
        if not self._health.healthy or self._health.reason == "not yet used":
            self._health = TrunkHealth(healthy=True, reason="trunk answers", since=utc_now())

    def _check_nat(self, resp: SipMessage) -> None:
        """Compare the first Via received/rport we get with what we advertise."""
        vias = resp.get_all("Via")
        received = header_param(vias[0], "received") if vias else None
        rport = header_param(vias[0], "rport") if vias else None
        if not received and not rport:
            return
        self._nat_checked = True
        host, port = self._advertised
        seen_host = received or host
        # Over TCP rport is the port we connected from, never the one we listen on.
        seen_port = (
            int(rport) if rport and rport.isdigit() and not self.transport.reliable else port
        )
        if (seen_host, seen_port) != (host, port):
            self.seen_as = (seen_host, seen_port)
            log.warning(
                "NAT detected: we advertise %s:%s but the trunk sees %s:%s; "
                "set dialer.sip.public_host / public_port to the address it sees",
                host,
                port,
                seen_host,
                seen_port,
            )

    # client transactions ----------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a fire-and-forget coroutine, keeping a reference until it is done."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start_invite(self, invite: SipMessage, dest: Address) -> InviteClientTransaction:
        tx = InviteClientTransaction(self, invite, dest)
        self._invites[tx.branch] = tx
        loop = asyncio.get_running_loop()
        loop.call_later(self.config.timers.b + 32, self._drop_invite, tx.branch)
        return tx

    def _drop_invite(self, branch: str) -> None:
        tx = self._invites.pop(branch, None)
        if tx is not None:
            tx.stop()

    async def request(
        self, msg: SipMessage, dest: Address, *, counts_for_health: bool = True
    ) -> SipMessage:
        """Run a non-INVITE client transaction; raise :class:`TransactionTimeout` on
        Timer F and :class:`TransportError` when the request cannot be sent.

        ``counts_for_health=False``: a timeout says nothing about the trunk
        (an OPTIONS to a trunk that may ignore them)."""
        assert msg.method is not None
        key = (msg.top_via_branch, msg.method)
        tx = _NonInviteTransaction(dest)
        self._non_invites[key] = tx
        timers = self.config.timers
        reliable = self.transport.reliable
        data = msg.to_bytes()
        try:
            error = self.transport.send_raw(data, dest, msg)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timers.b
            interval = timers.b if reliable else timers.t1
            while error is None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    if counts_for_health:
                        self.note_timeout(dest)
                    raise TransactionTimeout(f"Timer F: no answer to {msg.method}")
                with contextlib.suppress(TimeoutError):  # TransportError too: see below
                    await asyncio.wait_for(asyncio.shield(tx.final), min(interval, remaining))
                if tx.final.done():
                    return tx.final.result()
                if not reliable:
                    interval = timers.t2 if tx.provisional else min(interval * 2, timers.t2)
                    error = self.transport.send_raw(data, dest, msg, retransmission=True)
            self.note_transport_error(dest, error)
            raise TransportError(error)
        finally:
            self._non_invites.pop(key, None)

    def _on_unreachable(self, dest: Address, reason: str) -> None:
        """A TCP connection to ``dest`` could not be opened: every transaction
        still waiting for its first answer from there fails now."""
        for tx in list(self._invites.values()):
            if tx.dest == dest:
                tx.fail(reason)
        for ntx in list(self._non_invites.values()):
            if ntx.dest == dest:
                ntx.fail(reason)
        self.note_transport_error(dest, reason)

    # inbound ----------------------------------------------------------------
    def _on_message(self, msg: SipMessage, addr: Address) -> None:
        try:
            if msg.is_request:
                self._on_request(msg, addr)
            else:
                self._on_response(msg, addr)
        except Exception:
            # A message that parsed but broke a handler ends only its own call.
            log.exception("error handling %s from %s:%s", msg.summary(), *addr)
            call = self.calls.get(msg.call_id)
            if call is not None:
                call.abort("internal error on a malformed message")

    def _on_response(self, resp: SipMessage, addr: Address) -> None:
        if not self._nat_checked:
            self._check_nat(resp)
        branch = resp.top_via_branch
        _, method = resp.cseq
        if method == "INVITE":
            tx = self._invites.get(branch)
            if tx is not None:
                tx.on_response(resp)
                return
        else:
            ntx = self._non_invites.get((branch, method))
            if ntx is not None:
                self.note_alive(addr)
                ntx.on_response(resp)
                return
        log.debug("stray response %s from %s:%s", resp.summary(), *addr)

    def _on_request(self, req: SipMessage, addr: Address) -> None:
        key = (req.call_id, req.top_via_branch, req.method or "")
        cached = self._responses.get(key)
        if cached is not None and req.method != "ACK":
            resp, data, to = cached
            self.transport.send_raw(data, to, resp, retransmission=True)
            return
        call = self.calls.get(req.call_id)
        to_tag = header_param(req.get("To") or "", "tag")
        if call is not None and to_tag == call.local_tag:
            call.on_request(req, addr)
        elif call is not None and req.method == "INVITE" and not to_tag:
            return  # a retransmitted INVITE we are still answering (100 Trying went out)
        elif call is not None and req.method == "CANCEL" and call.inbound:
            self.respond(req, build_response(req, 200, "OK"), addr)
            call.cancelled_by_caller()
        elif req.method == "ACK":
            return
        elif req.method == "OPTIONS":
            resp = build_response(req, 200, "OK", to_tag=new_tag())
            resp.add("Allow", ALLOW)
            self.respond(req, resp, addr)
        elif req.method == "INVITE":
            # Agent phones are called out to; only a customer ringing a
            # campaign's number back is taken, by the trunk's handler.
            taken = self.on_invite is not None and self.on_invite(req, addr)
            if not taken:
                self.respond(req, build_response(req, 603, "Decline", to_tag=new_tag()), addr)
        else:
            self.respond(req, build_response(req, 481, "Call/Transaction Does Not Exist"), addr)

    def respond(self, req: SipMessage, resp: SipMessage, addr: Address) -> None:
        """Send a response to a request and remember it for retransmissions."""
        resp.add("Server", self.config.user_agent)
        data = resp.to_bytes()
        self.transport.send_raw(data, addr, resp)
        if (resp.status or 0) >= 200:
            key = (req.call_id, req.top_via_branch, req.method or "")
            self._responses[key] = (resp, data, addr)
            asyncio.get_running_loop().call_later(
                self.config.timers.b, self._responses.pop, key, None
            )

    # helpers for calls ------------------------------------------------------
    def via(self, branch: str | None = None) -> str:
        return f"{self._via_prefix}{branch or new_branch()};rport"

    def contact(self) -> str:
        return self._contact

    def new_call(
        self,
        call_id: str,
        target_uri: str,
        caller: str,
        ring_timeout_s: float,
        on_event: CallEventHandler,
        dest: Address | None = None,
        caller_name: str | None = None,
    ) -> Call:
        call = Call(self, call_id, target_uri, caller, ring_timeout_s, on_event, dest, caller_name)
        self.calls[call.sip_call_id] = call
        return call

    def answer_invite(
        self, req: SipMessage, addr: Address, call_id: str, on_event: CallEventHandler
    ) -> Call:
        """Take an out-of-dialog INVITE as a call of ours: 100 Trying now, the
        answer once :meth:`Call.run` has its media."""
        self.transport.send_raw(build_response(req, 100, "Trying").to_bytes(), addr, None)
        call = Call(self, call_id, "", "", 0, on_event, addr)
        call.take_invite(req, addr)
        self.calls[call.sip_call_id] = call
        return call

    def forget(self, call: Call) -> None:
        # Linger so retransmitted BYE/2xx still find their call for a while.
        asyncio.get_running_loop().call_later(
            self.config.timers.b, self.calls.pop, call.sip_call_id, None
        )


async def resolve(uri: str) -> Address:
    host, port = uri_host_port(uri)
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM
    )
    return str(infos[0][4][0]), int(infos[0][4][1])


@dataclass(frozen=True)
class CallEvent:
    phase: str  # dialing | ringing | answered | ended
    outcome: Outcome | None = None
    sip_status: int | None = None
    sip_reason: str | None = None


CallEventHandler = Callable[["Call", CallEvent], None]
InviteHandler = Callable[[SipMessage, Address], bool]
"""Offered every out-of-dialog INVITE; True when it took it (it then answers
through :meth:`UserAgent.answer_invite`), False to have it declined."""


class Call:
    """One outbound INVITE and its dialog, driven by :meth:`run`."""

    def __init__(
        self,
        ua: UserAgent,
        call_id: str,
        target_uri: str,
        caller: str,
        ring_timeout_s: float,
        on_event: CallEventHandler,
        dest: Address | None,
        caller_name: str | None = None,
    ) -> None:
        self.ua = ua
        self.call_id = call_id
        self.sip_call_id = f"{secrets.token_hex(10)}@callcenter"
        self.target_uri = target_uri
        self.ring_timeout_s = ring_timeout_s
        self.local_tag = new_tag()
        self.remote_tag: str | None = None
        self.route_set: list[str] = []
        self.remote_target = target_uri
        self.phase = "dialing"
        self.rtp: RtpEndpoint | None = None
        self.sdp: LocalSession | None = None
        self.answered_event = asyncio.Event()
        self.ended_event = asyncio.Event()
        self.ended: CallEvent | None = None
        self.session_timer = SessionTimer(self, ua.config.session_expires_s, ua.config.min_se_s)
        self.peer_allows_update = False
        self._on_event = on_event
        self._dest = dest
        domain = ua.config.domain or uri_host_port(ua.config.trunk_uri)[0]
        self._from = from_header(caller, domain, self.local_tag, caller_name)
        self._to = f"<{target_uri}>"
        self._cseq = secrets.randbelow(10000) + 1
        self._remote_cseq = -1
        self._invite_tx: InviteClientTransaction | None = None
        self._cancel_wanted = False
        self._cancel_sent = False
        self._provisional_seen = False
        self._ended_locally = False
        self._pending_ack: asyncio.Event | None = None
        self._answer_status: int | None = None
        self._reinvite_pending = False  # our re-INVITE (an offer) awaits its final response
        self._serving_branch: str | None = None  # the peer's INVITE/UPDATE we are answering
        self._offer_in_2xx = False  # we offered in a 2xx; the peer answers in the ACK
        self._inbound: tuple[SipMessage, Address] | None = None  # the INVITE we answer

    @property
    def inbound(self) -> bool:
        """The peer called us (a customer ringing back), not the other way round."""
        return self._inbound is not None

    def take_invite(self, req: SipMessage, addr: Address) -> None:
        """Become the UAS side of the dialog ``req`` opens (RFC 3261 12.1.1):
        our From is their To with our tag, the route set their Record-Route
        in order, the remote target their Contact."""
        self._inbound = (req, addr)
        self.sip_call_id = req.call_id
        self.remote_tag = header_param(req.get("From") or "", "tag")
        self._from = with_tag(req.get("To") or "", self.local_tag)
        self._to = req.get("From") or ""
        self.route_set = list(req.get_all("Record-Route"))
        self.target_uri = self.remote_target = uri_of(req.get("Contact") or self._to)
        self._note_peer(req)
        self._remote_cseq = req.cseq[0]
        self._dest = addr

    # running the INVITE -----------------------------------------------------
    async def run(self) -> None:
        """Drive the call to its end; never raises."""
        try:
            await self._run()
        except Exception:
            log.exception("call %s failed", self.call_id, extra={"call_id": self.call_id})
            self._finish(Outcome.FAILED, None, "internal error")
        finally:
            if self.rtp is not None:
                self.rtp.close()
            self.ua.forget(self)

    async def _run(self) -> None:
        cfg = self.ua.config
        try:
            self.rtp = await self.ua.rtp_ports.open(self.call_id)
        except RtpPortError as exc:
            log.error("call %s: %s", self.call_id, exc, extra={"call_id": self.call_id})
            self._emit(CallEvent("dialing"))
            self._finish(Outcome.FAILED, None, str(exc))
            return
        bound = cfg.rtp_host if cfg.rtp_host != "0.0.0.0" else None  # a wildcard says nothing
        host = cfg.media_host or bound or self.ua.media_host
        self.sdp = LocalSession(host, self.rtp.port, codecs=cfg.codecs, dtmf=cfg.dtmf)
        self._emit(CallEvent("dialing"))
        if self._inbound is not None:
            await self._answer_inbound(*self._inbound)
            return
        if self._cancel_wanted:
            self._finish(Outcome.NO_ANSWER, None, "hung up before the INVITE was sent")
            return
        if self._dest is None:
            self._dest = self.ua.trunk_address
        authorization: tuple[str, str] | None = None
        challenges = 0
        interval_raised = False
        while True:
            invite = self._build_invite(authorization)
            tx = self.ua.start_invite(invite, self._dest)
            tx.on_stray_2xx = self._reject_fork
            self._invite_tx = tx
            final = await self._await_final(tx)
            if isinstance(final, _Failure):
                tx.stop()
                outcome = Outcome.NO_ANSWER if self._cancel_sent else Outcome.FAILED
                self._finish(outcome, None, final.reason)
                return
            status = final.status or 0
            if status in (401, 407) and not self._cancel_wanted and challenges < 2:
                authorization = self._answer_challenge(final, "INVITE", invite.uri or "")
                if authorization is not None:
                    challenges += 1
                    continue
            if status == 422 and not self._cancel_wanted and not interval_raised:
                interval_raised = self.session_timer.accept_422(final)
                if interval_raised:
                    continue
            if 200 <= status < 300:
                await self._confirm(tx, final)
                return
            self._finish(outcome_for_status(status), status, final.reason)
            return

    def cancelled_by_caller(self) -> None:
        """The caller hung up before we answered: 487 to their INVITE; the
        call ends once it runs (or at once when it is running)."""
        assert self._inbound is not None
        if self.phase != "dialing" or self._cancel_wanted:
            return  # answered already: the caller's BYE will follow
        self._cancel_wanted = True
        req, addr = self._inbound
        self.ua.respond(req, build_response(req, 487, "Request Terminated", self.local_tag), addr)

    def decline(self, status: int, reason: str) -> None:
        """Refuse the INVITE we took (no agent campaign owns the number, say)."""
        assert self._inbound is not None
        req, addr = self._inbound
        if not self._cancel_wanted:
            self.ua.respond(req, build_response(req, status, reason, self.local_tag), addr)
        self._finish(Outcome.DECLINED, status, reason)
        self.ua.forget(self)

    async def _answer_inbound(self, req: SipMessage, addr: Address) -> None:
        """200 OK with our answer to the caller's offer, repeated until the ACK."""
        assert self.sdp is not None and self.rtp is not None
        if self._cancel_wanted:
            self._finish(Outcome.NO_ANSWER, 487, "the caller hung up before the answer")
            return
        cfg = self.ua.config
        try:
            media = await peer_media(req.body, cfg.codecs, cfg.dtmf)
        except SdpError as exc:
            self._log_bad_sdp("an inbound INVITE (refused with 488)", str(exc))
            self.ua.respond(
                req, build_response(req, 488, "Not Acceptable Here", self.local_tag), addr
            )
            self._finish(Outcome.FAILED, 488, f"unusable SDP offer: {exc}")
            return
        self.rtp.apply(media)
        resp = build_response(req, 200, "OK", to_tag=self.local_tag)
        resp.add("Contact", self.ua.contact())
        resp.add("Allow", ALLOW)
        resp.add("Content-Type", "application/sdp")
        resp.body = self.sdp.answer(media.description, media.codec)
        for route in req.get_all("Record-Route"):
            resp.add("Record-Route", route)
        self.phase = "answered"
        self._answer_status = 200
        self.ua.respond(req, resp, addr)
        await self._retransmit_2xx(resp.to_bytes(), addr)
        if self.phase != "answered":
            return
        self.answered_event.set()
        self._emit(CallEvent("answered", sip_status=200, sip_reason="OK"))
        await self.ended_event.wait()

    def _build_invite(self, authorization: tuple[str, str] | None) -> SipMessage:
        assert self.sdp is not None
        self._cseq += 1
        invite = SipMessage(method="INVITE", uri=self.target_uri)
        invite.add("Via", self.ua.via())
        if self.ua.config.outbound_proxy and self._dest == self.ua.trunk_address:
            invite.add("Route", f"<{self.ua.config.outbound_proxy};lr>")
        invite.add("Max-Forwards", "70")
        invite.add("From", self._from)
        invite.add("To", self._to)
        invite.add("Call-ID", self.sip_call_id)
        invite.add("CSeq", f"{self._cseq} INVITE")
        invite.add("Contact", self.ua.contact())
        invite.add("Allow", ALLOW)
        for name, value in self.session_timer.invite_headers():
            invite.add(name, value)
        invite.add("User-Agent", self.ua.config.user_agent)
        if authorization is not None:
            invite.add(*authorization)
        invite.add("Content-Type", "application/sdp")
        invite.body = self.sdp.offer()
        return invite

    def _answer_challenge(self, resp: SipMessage, method: str, uri: str) -> tuple[str, str] | None:
        cfg = self.ua.config
        if cfg.username is None or cfg.password is None:
            return None
        header = "WWW-Authenticate" if resp.status == 401 else "Proxy-Authenticate"
        reply = "Authorization" if resp.status == 401 else "Proxy-Authorization"
        for value in resp.get_all(header):
            try:
                challenge = auth.parse_challenge(value)
            except auth.DigestError as exc:
                log.info(
                    "call %s: cannot answer %s: %s",
                    self.call_id,
                    header,
                    exc,
                    extra={"call_id": self.call_id},
                )
                continue
            if cfg.realm is not None and challenge.realm != cfg.realm:
                log.info(
                    "call %s: not answering a challenge for realm %r (ours is %r)",
                    self.call_id,
                    challenge.realm,
                    cfg.realm,
                    extra={"call_id": self.call_id},
                )
                continue
            return reply, auth.authorization_header(
                challenge,
                username=cfg.username,
                password=cfg.password,
                method=method,
                uri=uri,
            )
        return None

    async def _await_final(self, tx: InviteClientTransaction) -> SipMessage | _Failure:
        loop = asyncio.get_running_loop()
        ring_deadline = loop.time() + self.ring_timeout_s
        cancel_deadline: float | None = None
        while True:
            deadline = ring_deadline if cancel_deadline is None else cancel_deadline
            try:
                item = await asyncio.wait_for(tx.responses.get(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                if cancel_deadline is not None:
                    return _Failure("no final response after CANCEL")
                self._cancel_wanted = True
                self._maybe_cancel()
                cancel_deadline = loop.time() + self.ua.config.timers.b
                continue
            if isinstance(item, _Failure):
                return item
            if (item.status or 0) >= 200:
                return item
            await self._on_provisional(item)

    async def _on_provisional(self, resp: SipMessage) -> None:
        self._provisional_seen = True
        if (resp.status or 0) > 100 and self.phase == "dialing":
            self.phase = "ringing"
            self._emit(CallEvent("ringing", sip_status=resp.status, sip_reason=resp.reason))
        if resp.body and resp.status == 183:
            problem = await self.take_answer(resp.body)
            if problem is not None:
                self._log_bad_sdp("early media", problem)
        self._maybe_cancel()

    def _maybe_cancel(self) -> None:
        if self._cancel_wanted and self._provisional_seen and not self._cancel_sent:
            self._cancel_sent = True
            self.ua.spawn(self._send_cancel())

    async def _send_cancel(self) -> None:
        assert self._invite_tx is not None and self._dest is not None
        invite = self._invite_tx.invite
        cancel = SipMessage(method="CANCEL", uri=invite.uri)
        cancel.add("Via", invite.get_all("Via")[0])
        for route in invite.get_all("Route"):
            cancel.add("Route", route)
        cancel.add("Max-Forwards", "70")
        cancel.add("From", invite.get("From") or "")
        cancel.add("To", invite.get("To") or "")
        cancel.add("Call-ID", invite.call_id)
        cancel.add("CSeq", f"{invite.cseq[0]} CANCEL")
        with contextlib.suppress(TransactionTimeout):
            await self.ua.request(cancel, self._dest)

    # the dialog -------------------------------------------------------------
    async def _confirm(self, tx: InviteClientTransaction, resp: SipMessage) -> None:
        self.remote_tag = header_param(resp.get("To") or "", "tag")
        self._to = resp.get("To") or self._to
        self.route_set = list(reversed(resp.get_all("Record-Route")))
        self._note_peer(resp)
        self._ack_2xx(tx, self._in_dialog_dest())
        problem = await self.take_answer(resp.body)
        if self._cancel_wanted or self._ended_locally:
            await self._send_bye()
            self._finish(Outcome.NO_ANSWER, resp.status, "answered after CANCEL; BYE sent")
            return
        if problem is not None:
            self._log_bad_sdp("the answer", problem)
            await self._send_bye()
            self._finish(Outcome.FAILED, resp.status, f"unusable SDP answer: {problem}")
            return
        self.phase = "answered"
        self._answer_status = resp.status
        self.session_timer.answered(resp)
        self.answered_event.set()
        self._emit(CallEvent("answered", sip_status=resp.status, sip_reason=resp.reason))
        await self.ended_event.wait()

    def _ack_2xx(self, tx: InviteClientTransaction, dest: Address) -> None:
        """ACK a 2xx (with the INVITE's credentials) and keep it for 2xx retransmissions."""
        ack = self._in_dialog("ACK", cseq=tx.invite.cseq[0])
        for name in ("Proxy-Authorization", "Authorization"):
            credentials = tx.invite.get(name)
            if credentials:
                ack.add(name, credentials)
        tx.confirmed_tag = self.remote_tag
        tx.ack_2xx = (ack, ack.to_bytes(), dest)
        self.ua.transport.send_raw(tx.ack_2xx[1], dest, ack)

    def _note_peer(self, msg: SipMessage) -> None:
        """Remote target and allowed methods, from a 2xx or a target refresh request."""
        contacts = msg.get_all("Contact")
        if contacts:
            self.remote_target = uri_of(contacts[0])
        allowed = msg.get_all("Allow")
        if allowed:
            self.peer_allows_update = "UPDATE" in {method.upper() for method in allowed}

    async def take_answer(self, body: bytes) -> str | None:
        """Apply the peer's SDP answer to our offer; why it is unusable, or None."""
        assert self.rtp is not None
        if not body:
            return "no SDP"
        cfg = self.ua.config
        try:
            media = await peer_media(body, cfg.codecs, cfg.dtmf)
        except SdpError as exc:
            return str(exc)
        self.rtp.apply(media)
        return None

    def _log_bad_sdp(self, what: str, problem: str) -> None:
        log.warning(
            "call %s: unusable SDP in %s: %s",
            self.call_id,
            what,
            problem,
            extra={"call_id": self.call_id},
        )

    def _in_dialog(self, method: str, cseq: int | None = None) -> SipMessage:
        if cseq is None:
            self._cseq += 1
            cseq = self._cseq
        routes = list(self.route_set)
        uri = self.remote_target
        if routes and "lr" not in uri_params(uri_of(routes[0])):
            uri = uri_of(routes.pop(0))  # strict router (RFC 3261 12.2.1.1)
            routes.append(f"<{self.remote_target}>")
        msg = SipMessage(method=method, uri=uri)
        msg.add("Via", self.ua.via())
        for route in routes:
            msg.add("Route", route)
        msg.add("Max-Forwards", "70")
        msg.add("From", self._from)
        msg.add("To", self._to)
        msg.add("Call-ID", self.sip_call_id)
        msg.add("CSeq", f"{cseq} {method}")
        if method != "ACK":
            msg.add("User-Agent", self.ua.config.user_agent)
        return msg

    def _in_dialog_dest(self) -> Address:
        first = uri_of(self.route_set[0]) if self.route_set else self.remote_target
        host, port = uri_host_port(first)
        return host, port

    async def _send_bye(self) -> CallEvent | None:
        bye = self._in_dialog("BYE")
        try:
            resp = await self.ua.request(bye, self._in_dialog_dest())
        except TransactionTimeout as exc:
            log.warning("call %s: %s", self.call_id, exc, extra={"call_id": self.call_id})
            return None
        return CallEvent("ended", sip_status=resp.status, sip_reason=resp.reason)

    def _reject_fork(self, resp: SipMessage) -> None:
        """A 2xx from a second fork: ACK it and hang it up (RFC 3261 13.2.2.4)."""
        log.info(
            "call %s: extra 2xx from a fork, sending ACK and BYE",
            self.call_id,
            extra={"call_id": self.call_id},
        )
        fork = Call(self.ua, self.call_id, self.target_uri, "", 0, lambda _c, _e: None, self._dest)
        fork.sip_call_id, fork.local_tag, fork._from = self.sip_call_id, self.local_tag, self._from
        fork._cseq = self._cseq
        fork.remote_tag = header_param(resp.get("To") or "", "tag")
        fork._to = resp.get("To") or self._to
        fork.route_set = list(reversed(resp.get_all("Record-Route")))
        contacts = resp.get_all("Contact")
        fork.remote_target = uri_of(contacts[0]) if contacts else self.target_uri
        assert self._invite_tx is not None
        self.ua.transport.send(
            fork._in_dialog("ACK", cseq=self._invite_tx.invite.cseq[0]), fork._in_dialog_dest()
        )
        self.ua.spawn(fork._send_bye())

    # requests from the peer -------------------------------------------------
    def on_request(self, req: SipMessage, addr: Address) -> None:
        method = req.method or ""
        if method == "ACK":
            self._on_ack(req)
            return
        number, _ = req.cseq
        if number == self._remote_cseq and req.top_via_branch == self._serving_branch:
            return  # a retransmission of the request we are still answering
        if number <= self._remote_cseq:
            self.ua.respond(req, build_response(req, 500, "Server Internal Error"), addr)
            return
        self._remote_cseq = number
        if self.phase != "answered":
            self.ua.respond(req, build_response(req, 481, "Call/Transaction Does Not Exist"), addr)
            return
        if method == "BYE":
            self.ua.respond(req, build_response(req, 200, "OK"), addr)
            self._finish(Outcome.ANSWERED, self._answer_status, "remote hangup")
        elif method in ("INVITE", "UPDATE"):
            self._on_offer(req, addr)
        elif method in ("OPTIONS", "INFO", "NOTIFY"):
            self.ua.respond(req, build_response(req, 200, "OK"), addr)
        else:
            resp = build_response(req, 405, "Method Not Allowed")
            resp.add("Allow", ALLOW)
            self.ua.respond(req, resp, addr)

    def _on_ack(self, req: SipMessage) -> None:
        if self._pending_ack is not None:
            self._pending_ack.set()
        if req.body and self._offer_in_2xx:
            self._offer_in_2xx = False
            self.ua.spawn(self._guarded(self._take_answer_in_ack(req.body), "the ACK's answer"))

    async def _take_answer_in_ack(self, body: bytes) -> None:
        problem = await self.take_answer(body)
        if problem is not None:
            self._log_bad_sdp("an ACK", problem)
            await self.end_session(f"unusable SDP answer in ACK: {problem}")

    def _on_offer(self, req: SipMessage, addr: Address) -> None:
        if self._serving_branch is not None:  # still answering the previous one (RFC 3261 14.2)
            resp = build_response(req, 500, "Server Internal Error")
            resp.add("Retry-After", "1")
            self.ua.respond(req, resp, addr)
        elif self._reinvite_pending and (req.method == "INVITE" or req.body):
            self.ua.respond(req, build_response(req, 491, "Request Pending"), addr)
        else:
            self._serving_branch = req.top_via_branch
            self.ua.spawn(self._guarded(self._answer_offer(req, addr), f"answering {req.method}"))

    async def _answer_offer(self, req: SipMessage, addr: Address) -> None:
        """A re-INVITE or UPDATE: a new offer, a session refresh, or both."""
        try:
            resp = await self._offer_response(req)
            self.ua.respond(req, resp, addr)
        finally:
            self._serving_branch = None
        if req.method == "INVITE" and resp.status == 200:
            await self._retransmit_2xx(resp.to_bytes(), addr)

    async def _offer_response(self, req: SipMessage) -> SipMessage:
        assert self.sdp is not None and self.rtp is not None
        timer = answer_request(req, self.session_timer.min_se_s)
        if timer.too_small:
            resp = build_response(req, 422, "Session Interval Too Small")
            for header in timer.headers:
                resp.add(*header)
            return resp
        media = None
        if req.body:
            cfg = self.ua.config
            try:
                media = await peer_media(req.body, cfg.codecs, cfg.dtmf)
            except SdpError as exc:
                self._log_bad_sdp(f"a {req.method} offer (refused with 488)", str(exc))
                return build_response(req, 488, "Not Acceptable Here")
        if self.phase != "answered":
            return build_response(req, 481, "Call/Transaction Does Not Exist")
        self._note_peer(req)
        resp = build_response(req, 200, "OK")
        resp.add("Contact", self.ua.contact())
        resp.add("Allow", ALLOW)
        resp.add("Supported", "timer")
        for header in timer.headers:
            resp.add(*header)
        if media is not None:
            self.rtp.apply(media)
            resp.body = self.sdp.answer(media.description, media.codec)
        elif req.method == "INVITE":
            resp.body = self.sdp.offer()
            self._offer_in_2xx = True
        if resp.body:
            resp.add("Content-Type", "application/sdp")
        self.session_timer.start(timer.interval)
        return resp

    async def _retransmit_2xx(self, data: bytes, addr: Address) -> None:
        """Timer G-like retransmission of our 2xx to a re-INVITE until the ACK."""
        timers = self.ua.config.timers
        self._pending_ack = acked = asyncio.Event()
        interval, waited = timers.t1, 0.0
        while waited < timers.b:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(acked.wait(), interval)
                return
            waited += interval
            interval = min(interval * 2, timers.t2)
            self.ua.transport.send_raw(data, addr, None)
        log.warning(
            "call %s: no ACK for our 2xx to a re-INVITE; hanging up",
            self.call_id,
            extra={"call_id": self.call_id},
        )
        await self.hang_up()

    async def _guarded(self, work: Awaitable[None], what: str) -> None:
        """Run in-dialog work in the background; if it breaks, only this call ends."""
        try:
            await work
        except Exception:
            log.exception(
                "call %s: error in %s", self.call_id, what, extra={"call_id": self.call_id}
            )
            self.abort(f"internal error in {what}")

    # session timer (RFC 4028) -----------------------------------------------
    async def send_refresh(self, method: str, headers: list[tuple[str, str]]) -> SipMessage | None:
        resp = await self._request_in_dialog(method, headers, None)
        if resp is not None and resp.status in (401, 407):
            authorization = self._answer_challenge(resp, method, self.remote_target)
            if authorization is not None:
                resp = await self._request_in_dialog(method, headers, authorization)
        return resp

    async def _request_in_dialog(
        self, method: str, headers: list[tuple[str, str]], authorization: tuple[str, str] | None
    ) -> SipMessage | None:
        """Send an UPDATE (no SDP) or a re-INVITE (our last SDP); None on a timeout."""
        assert self.sdp is not None
        msg = self._in_dialog(method)
        msg.add("Contact", self.ua.contact())
        msg.add("Allow", ALLOW)
        for header in headers:
            msg.add(*header)
        if authorization is not None:
            msg.add(*authorization)
        dest = self._in_dialog_dest()
        if method != "INVITE":
            try:
                return await self.ua.request(msg, dest)
            except TransactionTimeout:
                return None
        msg.add("Content-Type", "application/sdp")
        msg.body = self.sdp.last_body
        self._reinvite_pending = True
        try:
            return await self._reinvite(msg, dest)
        finally:
            self._reinvite_pending = False

    async def _reinvite(self, invite: SipMessage, dest: Address) -> SipMessage | None:
        tx = self.ua.start_invite(invite, dest)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ua.config.timers.b
        while True:
            try:
                item = await asyncio.wait_for(tx.responses.get(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                tx.stop()
                return None
            if isinstance(item, _Failure):
                return None
            status = item.status or 0
            if status < 200:
                continue
            if status < 300:
                self._ack_2xx(tx, dest)
            return item

    async def end_session(self, reason: str) -> None:
        """BYE and end an answered call for a reason of our own."""
        if self.phase != "answered" or self._ended_locally:
            return
        self._ended_locally = True
        log.info("call %s: %s", self.call_id, reason, extra={"call_id": self.call_id})
        await self._send_bye()
        self._finish(Outcome.ANSWERED, self._answer_status, reason)

    # control from the carrier -----------------------------------------------
    async def hang_up(self) -> None:
        """CANCEL while ringing, BYE once answered; idempotent."""
        if self.ended is not None or self._ended_locally:
            return
        self._ended_locally = True
        if self.phase == "answered":
            result = await self._send_bye()
            reason = "local hangup" if result else "local hangup; BYE not answered"
            self._finish(Outcome.ANSWERED, self._answer_status, reason)
        else:
            self._cancel_wanted = True
            self._maybe_cancel()

    def abort(self, reason: str) -> None:
        """End this call after a protocol error we cannot recover from."""
        if self.ended is not None:
            return
        if self.phase == "answered":
            self.ua.spawn(self._send_bye())
        elif self._invite_tx is not None:
            self._cancel_wanted = True
            self._maybe_cancel()
        self._finish(Outcome.FAILED, None, reason)

    def _finish(self, outcome: Outcome, status: int | None, reason: str | None) -> None:
        if self.ended is not None:
            return
        self.ended = CallEvent("ended", outcome=outcome, sip_status=status, sip_reason=reason)
        self.phase = "ended"
        self.session_timer.close()
        if self._pending_ack is not None:
            self._pending_ack.set()
        self.ended_event.set()
        self._emit(self.ended)

    def _emit(self, event: CallEvent) -> None:
        try:
            self._on_event(self, event)
        except Exception:
            log.exception(
                "progress handler failed for call %s", self.call_id, extra={"call_id": self.call_id}
            )
