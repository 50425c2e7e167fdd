"""A recorded call stays recorded through a warm transfer, on the real SIP
trunk with three sipp phones each playing its own tone: one file from the
bridge to the customer's hang-up, the customer on the left throughout, and on
the right what the customer was given: agent A, nothing while on hold (the
agents' consult is not the customer's call), A and B mixed while all three
are joined, then agent B after the hand-over."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import soundfile

from callcenter.recording_store import FolderStore
from dialer.carrier import AgentLegRequest, OriginateRequest
from dialer.recordings import CallRecorder, RecordingOutcome
from dialer.sip.recorder import RecordingWriter
from dialer.sip.trunk import SipTrunk
from dialer.voices import hold_wav
from tests.integration.sip.helpers import Recorder, trunk_for
from tests.integration.sip.tone import tone_levels
from tests.integration.transfer.conftest import CLOSER_HZ, CUSTOMER_HZ, OPENER_HZ, TONES, Phone

pytestmark = pytest.mark.sipp

PHASE_S = 1.5
EDGE_S = 0.3  # left out at each end of a phase: the moves take a few packets


def test_warm_transfer_recorded_in_one_file_from_bridge_to_hang_up(
    phones: dict[str, Phone], tmp_path: Path
) -> None:
    store = FolderStore(tmp_path / "store")
    recorder = CallRecorder(RecordingWriter(tmp_path / "spool", min_free_bytes=0), store)
    outcomes: list[RecordingOutcome] = []
    done = threading.Event()

    def finished(outcome: RecordingOutcome) -> None:
        outcomes.append(outcome)
        done.set()

    async def go() -> tuple[list[float], float]:
        trunk: SipTrunk = trunk_for(phones["customer"].uri)
        await trunk.start()
        recorder.start()
        recorders = {"customer": Recorder(), "opener": Recorder(), "closer": Recorder()}
        marks: list[float] = []  # when each phase began, from the bridge
        try:
            for name in ("opener", "closer"):
                await trunk.connect_agent(AgentLegRequest(name, phones[name].uri), recorders[name])
            await trunk.originate(
                OriginateRequest("customer", "+989121234567", "+982100000000", 5),
                recorders["customer"],
            )
            for leg in recorders.values():
                await asyncio.wait_for(leg.answered.wait(), 10)
            await trunk.bridge("customer", "opener")
            bridged_at = time.monotonic()
            trunk.record("customer", recorder.open("customer", 7, datetime.now(UTC), finished))
            await asyncio.sleep(PHASE_S)  # talking to the opener

            marks.append(time.monotonic() - bridged_at)
            await trunk.hold("customer", hold_wav())
            await trunk.bridge_agents("opener", "closer")
            await asyncio.sleep(PHASE_S)  # on hold, the agents consult

            marks.append(time.monotonic() - bridged_at)
            await trunk.unbridge_agents("opener", "closer")
            await trunk.unhold("customer")
            await trunk.bridge("customer", "opener")
            await trunk.monitor("customer", "closer", "barge")
            await asyncio.sleep(PHASE_S)  # all three joined

            marks.append(time.monotonic() - bridged_at)
            await trunk.end_monitor("customer", "closer")
            await trunk.unbridge("customer")
            await trunk.bridge("customer", "closer")
            await asyncio.sleep(PHASE_S)  # handed over to the closer

            assert not done.is_set(), "the recording ended before the customer hung up"
            await trunk.hang_up("customer")
            await asyncio.wait_for(recorders["customer"].ended.wait(), 5)
            hung_up = time.monotonic() - bridged_at
        finally:
            await trunk.stop()
            await asyncio.to_thread(recorder.stop)
        return marks, hung_up

    marks, hung_up = asyncio.run(go())
    assert done.wait(10)
    [outcome] = outcomes
    assert outcome.stored, outcome.failure_reason
    assert outcome.storage_key is not None
    audio, rate = soundfile.read(store.root / outcome.storage_key, dtype="int16")
    assert abs(len(audio) / rate - hung_up) <= 0.1, (len(audio) / rate, hung_up)

    bounds = [0.0, *marks, hung_up]
    phases = []
    for begin, end in itertools.pairwise(bounds):
        part = audio[round((begin + EDGE_S) * rate) : round((end - EDGE_S) * rate)]
        phases.append(tuple(_levels(part[:, channel]) for channel in (0, 1)))
    for index, (left, right) in enumerate(phases):
        print(f"phase {index}: left {left}, right {right}")
    talking, hold, joined, handed_over = phases
    loud = talking[1][OPENER_HZ]

    for left, _ in phases:  # the customer is on the left throughout
        assert left[CUSTOMER_HZ] > 100 * max(left[OPENER_HZ], left[CLOSER_HZ])
    assert talking[1][OPENER_HZ] > 100 * max(talking[1][CUSTOMER_HZ], talking[1][CLOSER_HZ])
    assert max(hold[1].values()) < loud / 100  # the consult is not on the customer's file
    assert min(joined[1][OPENER_HZ], joined[1][CLOSER_HZ]) > loud / 10
    assert joined[1][OPENER_HZ] > 100 * joined[1][CUSTOMER_HZ]
    right = handed_over[1]
    assert right[CLOSER_HZ] > 100 * max(right[OPENER_HZ], right[CUSTOMER_HZ])


def _levels(channel: np.ndarray) -> dict[float, float]:
    return tone_levels([int(v) for v in channel], TONES)
