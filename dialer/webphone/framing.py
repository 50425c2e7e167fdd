"""SIP over WebSocket (RFC 7118): one whole SIP message per frame, text or
binary, and the requests the gateway sends over it."""

from __future__ import annotations

from dialer.sip.message import SipMessage, SipParseError, new_branch, parse_message

VIA_HOST = "dialer.invalid"
"""RFC 7118 section 5.2: the Via of a WebSocket client names no reachable host;
responses come back on the connection the request went out on."""

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO"


def parse_frame(frame: str | bytes) -> SipMessage | None:
    """The SIP message in ``frame``; None for a keepalive (only CRLFs).
    Raises :class:`SipParseError` for anything else that is not exactly one
    well-formed message."""
    data = frame.encode() if isinstance(frame, str) else frame
    if not data.strip(b"\r\n"):
        return None
    message = parse_message(data)
    declared = message.get("Content-Length")
    rest = data.partition(b"\r\n\r\n")[2]
    if declared is not None and len(rest) > int(declared):
        raise SipParseError("more than one message in a frame")
    return message


def new_request(
    method: str,
    uri: str,
    *,
    call_id: str,
    cseq: int,
    from_: str,
    to: str,
    branch: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    content_type: str = "application/sdp",
) -> SipMessage:
    request = SipMessage(method=method, uri=uri)
    request.add("Via", f"SIP/2.0/WS {VIA_HOST};branch={branch or new_branch()}")
    request.add("Max-Forwards", "70")
    request.add("From", from_)
    request.add("To", to)
    request.add("Call-ID", call_id)
    request.add("CSeq", f"{cseq} {method}")
    for name, value in headers or []:
        request.add(name, value)
    if body:
        request.add("Content-Type", content_type)
        request.body = body
    return request
