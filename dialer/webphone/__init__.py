"""The built-in browser-phone gateway (embedded default): SIP over WebSocket
for JsSIP in the agent screen, WebRTC media through aiortc."""

from dialer.webphone.gateway import BrowserPhoneGateway
from dialer.webphone.hearing import Heard
from dialer.webphone.legs import BrowserLeg, LegEvent, LegState, LegTimers
from dialer.webphone.server import Limits

__all__ = [
    "BrowserLeg",
    "BrowserPhoneGateway",
    "Heard",
    "LegEvent",
    "LegState",
    "LegTimers",
    "Limits",
]
