"""The carrier port: what the dialer worker needs from whatever places calls.

Two adapters implement it: :class:`dialer.sip.trunk.SipTrunk` (real SIP over
UDP to a trunk or PBX) and :class:`dialer.simulated_carrier.SimulatedCarrier`
(the embedded default, no network). The worker codes against
:class:`Carrier` only.

Life of a customer call, as seen through ``on_progress``::

    dialing -> [ringing] -> [answered] -> ended(outcome, sip_status, sip_reason)

``ended`` is always the last event and is sent exactly once per call. An
answered call ends with outcome ``answered`` whatever side hangs up.

Answering-machine detection runs only for calls that ask for it
(``OriginateRequest.amd``). ``answered`` then waits for the verdict and
carries it (a person, or not sure: the call goes on to an agent); a machine
is never reported ``answered``: it is hung up, or left the campaign's
message, and ends with outcome ``machine`` and the verdict. With AMD off a
machine's answer looks like a person's, as it does on a real line.

Agent legs are nailed up: ``connect_agent`` calls the agent's phone once;
when it answers, the leg stays up until ``disconnect_agent`` or the agent
hangs up. ``bridge`` relays media between a customer call and an agent leg;
``record`` taps a bridge's two directions for the recorder.

Transfers: ``hold`` puts a customer on hold music (off their agent),
``bridge_agents`` lets two agents consult, ``join_calls`` hands a customer
to an outside call; a three-way join is ``monitor`` in ``barge`` mode.

Customers ringing back: ``take_inbound`` hands every call to our numbers to
the worker's handler, which says (after its database work) whether to answer
it; an answered one is a customer call like the others from ``answered`` on.

A supervisor's phone is called like an agent's (``connect_agent``); once it
answers, ``monitor`` lets it hear a bridged call as ``listen``, ``whisper``
or ``barge`` (called again, it switches the mode in place), and
``end_monitor`` takes it out; neither ever touches what the customer and
the agent hear of each other beyond the supervisor's own voice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable


class Outcome(StrEnum):
    """Final outcome of a call; the values equal the product's CallOutcome."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    DECLINED = "declined"
    INVALID_NUMBER = "invalid_number"
    FAILED = "failed"
    MACHINE = "machine"


Phase = Literal["dialing", "ringing", "answered", "ended"]


class AmdMode(StrEnum):
    """What a campaign does about answering machines (the values equal the product's)."""

    OFF = "off"
    HANGUP = "hangup"
    MESSAGE = "message"  # leave the campaign's message after the greeting, then hang up


class AmdResult(StrEnum):
    HUMAN = "human"
    MACHINE = "machine"
    NOT_SURE = "not_sure"


class AmdAction(StrEnum):
    HUNG_UP = "hung_up"
    MESSAGE_PLAYED = "message_played"
    PASSED_TO_AGENT = "passed_to_agent"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OriginateRequest:
    call_id: str
    to_number: str  # E.164, e.g. +989121234567
    caller_id: str
    ring_timeout_s: float = 30.0
    caller_name: str | None = None  # From display name; quoted and cleaned by the carrier
    amd: AmdMode = AmdMode.OFF
    voicemail_wav: str | None = None  # the message for AMD "message"; None: the shipped one
    locale: str | None = None  # the campaign script's (fa, en): what a simulated customer speaks


@dataclass(frozen=True)
class AmdVerdict:
    """What answering-machine detection said about a call, and what was done."""

    result: AmdResult
    decision_ms: int  # from the answer to the verdict
    answered_at: datetime  # aware UTC
    action: AmdAction | None = None  # None: the machine hung up before we acted


@dataclass(frozen=True)
class CallProgress:
    call_id: str
    phase: Phase
    at: datetime  # aware UTC
    outcome: str | None = None
    sip_status: int | None = None
    sip_reason: str | None = None
    bridged_to: str | None = None  # agent leg id, on an ``ended`` event of a bridged call
    amd: AmdVerdict | None = None  # on ``answered`` (person, not sure) or ``ended`` (machine)


@dataclass(frozen=True)
class TrunkHealth:
    healthy: bool
    reason: str = ""
    since: datetime | None = None


@dataclass(frozen=True)
class TrunkStatus:
    """What an operator asks of a trunk: registered? answering? how far? how busy?"""

    healthy: bool
    reason: str
    registration: str = "off"  # off | registering | registered | failed
    registration_detail: str = ""
    registered_until: datetime | None = None
    options: str = "off"  # off | answered | unanswered | never answered
    options_status: str = ""  # "200 OK", or why no answer came
    options_rtt_ms: float | None = None
    options_at: datetime | None = None
    calls_in_flight: int = 0
    agent_legs: int = 0
    address: str = ""  # what we advertise, host:port

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (times as ISO 8601 strings)."""
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in vars(self).items()
        }


@dataclass(frozen=True)
class AgentLegRequest:
    agent_leg_id: str
    agent_uri: str  # sip:1001@10.0.0.5:5060 for a real trunk; any label for the simulator


ProgressCallback = Callable[[CallProgress], None]


@dataclass(frozen=True)
class InboundOffer:
    """A call to one of our numbers, before it is answered."""

    call_id: str
    dialed: str  # the number called (the Request-URI's user part)
    caller: str  # the caller's number as their network sent it (From user part)


InboundHandler = Callable[[InboundOffer], Awaitable[ProgressCallback | None]]
"""Decides an inbound call: its progress callback to answer it, None to refuse it."""


class RecordingSink(Protocol):
    """Where a bridged call's audio goes (dialer.sip.recorder.Recording)."""

    def feed(self, channel: int, payload_type: int, payload: bytes) -> None:
        """One packet: channel 0 what the customer says, 1 what the customer is
        given (the agent, whoever it is after a transfer, or the mix when
        several are joined; nothing while on hold). Must not block."""

    def finish(self) -> None:
        """The customer hung up: the recording ends here (holds and transfers
        before that do not end it)."""


class CarrierError(RuntimeError):
    """A request the carrier cannot carry out (unknown call, not answered, unhealthy)."""


@runtime_checkable
class Carrier(Protocol):
    async def start(self) -> None:
        """Open sockets / start background work. Call once."""

    async def stop(self) -> None:
        """Hang up everything still up and release resources."""

    async def originate(self, request: OriginateRequest, on_progress: ProgressCallback) -> None:
        """Start a customer call; returns once the ``dialing`` event has been sent.

        Every later event arrives through ``on_progress`` on the event loop.
        """

    async def hang_up(self, call_id: str) -> None:
        """End a call in any phase (CANCEL while ringing, BYE once answered)."""

    async def play_and_hang_up(self, call_id: str) -> None:
        """Play the abandon message to an answered call, then hang up."""

    async def connect_agent(self, request: AgentLegRequest, on_progress: ProgressCallback) -> None:
        """Call the agent's phone and keep the leg up (progress uses agent_leg_id)."""

    async def disconnect_agent(self, agent_leg_id: str) -> None:
        """Hang up an agent leg."""

    async def bridge(self, call_id: str, agent_leg_id: str) -> None:
        """Relay media between an answered call and an answered agent leg."""

    async def unbridge(self, call_id: str) -> None:
        """Stop relaying; both legs stay up."""

    async def monitor(self, call_id: str, leg_id: str, mode: str) -> None:
        """Let the answered leg ``leg_id`` (a supervisor's phone) hear the bridged
        call ``call_id`` in ``mode`` (listen, whisper, barge); again: switch it."""

    async def end_monitor(self, call_id: str, leg_id: str) -> None:
        """Take the leg out of the call's mix (no-op when it is not in it)."""

    async def play_prompt(self, call_id: str, wav: str) -> None:
        """Play a WAV file to an answered customer call (the recording notice)."""

    def take_inbound(self, handler: InboundHandler) -> None:
        """Offer every call to our numbers to ``handler`` (customers ringing back)."""

    async def hold(self, call_id: str, wav: str) -> None:
        """Take an answered call off its agent and play ``wav`` to it in a loop."""

    async def unhold(self, call_id: str) -> None:
        """Stop the hold music (the call is bridged again with ``bridge``)."""

    async def bridge_agents(self, leg_a: str, leg_b: str) -> None:
        """Relay media between two answered agent legs (a warm transfer's consult)."""

    async def unbridge_agents(self, leg_a: str, leg_b: str) -> None:
        """End a consult; both legs stay up."""

    async def join_calls(self, call_id: str, other_call_id: str) -> None:
        """Relay media between two answered customer calls (a transfer to an
        outside number)."""

    def record(self, call_id: str, sink: RecordingSink) -> None:
        """Hand a bridged call's audio to ``sink`` until the bridge ends, then
        call ``sink.finish()``; CarrierError when the call is not bridged."""

    def health(self) -> TrunkHealth:
        """Whether the trunk is usable; the dialer pauses dialing when it is not."""

    def status(self) -> TrunkStatus:
        """Registration, keepalive answers and load, for operators and the live floor."""
