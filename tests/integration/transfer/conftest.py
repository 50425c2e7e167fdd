"""Three sipp phones, each playing its own tone, the test listening on each
phone's receive socket (see ears.py): the customer, the opener and the closer."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.sip.conftest import HOST, free_udp_port
from tests.integration.sip.tone import write_tone_pcap
from tests.integration.transfer.ears import Ear

HERE = Path(__file__).parent
CUSTOMER_HZ, OPENER_HZ, CLOSER_HZ = 440.0, 1200.0, 2000.0
TONES = (CUSTOMER_HZ, OPENER_HZ, CLOSER_HZ)


@dataclass
class Phone:
    name: str
    ear: Ear
    process: subprocess.Popen[bytes]
    uri: str


@pytest.fixture
def phones(tmp_path: Path) -> Iterator[dict[str, Phone]]:
    binary = shutil.which("sipp")
    assert binary is not None, "sipp is not installed (Debian package sip-tester)"
    started: dict[str, Phone] = {}
    for name, frequency in (
        ("customer", CUSTOMER_HZ),
        ("opener", OPENER_HZ),
        ("closer", CLOSER_HZ),
    ):
        workdir = tmp_path / name
        workdir.mkdir()
        pcap = workdir / "tone.pcap"
        write_tone_pcap(pcap, frequency, seconds=60.0, codec=0)
        ear = Ear(name)
        port = free_udp_port()
        process = subprocess.Popen(
            [
                binary,
                "-sf",
                str(HERE / "uas_phone_tone.xml"),
                "-i",
                HOST,
                "-p",
                str(port),
                "-mi",
                HOST,
                "-mp",
                str(free_udp_port(pair=True)),
                "-nostdin",
                "-key",
                "pcap",
                str(pcap),
                "-key",
                "hear_port",
                str(ear.port),
                "-trace_err",
            ],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started[name] = Phone(name, ear, process, f"sip:{name}@{HOST}:{port}")
    try:
        yield started
    finally:
        for phone in started.values():
            phone.process.kill()
            phone.process.wait()
            phone.ear.close()
