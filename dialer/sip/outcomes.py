"""Map a final SIP response (or a local failure) to the product's call outcome."""

from __future__ import annotations

from dialer.carrier import Outcome

_BY_STATUS = {
    486: Outcome.BUSY,
    600: Outcome.BUSY,
    480: Outcome.NO_ANSWER,
    408: Outcome.NO_ANSWER,
    487: Outcome.NO_ANSWER,
    603: Outcome.DECLINED,
    404: Outcome.INVALID_NUMBER,
    484: Outcome.INVALID_NUMBER,
    604: Outcome.INVALID_NUMBER,
}


def outcome_for_status(status: int) -> Outcome:
    """Outcome of a final response; 3xx (not followed), other 4xx/5xx/6xx are failures."""
    if 200 <= status < 300:
        return Outcome.ANSWERED
    return _BY_STATUS.get(status, Outcome.FAILED)
