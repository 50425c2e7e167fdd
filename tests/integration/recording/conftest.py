"""The SIP tests' sipp fixture, for the recorded calls."""

from tests.integration.sip.conftest import sipp

__all__ = ["sipp"]
