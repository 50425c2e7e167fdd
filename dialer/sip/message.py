"""SIP message model, parser and serializer (RFC 3261 section 7); one UDP
datagram or one message cut out of a TCP stream (:mod:`dialer.sip.tcp`) at a time.

The parser is strict about what it needs to route a message (start line,
Via, Call-ID, CSeq, From, To) and lenient about everything else; anything it
cannot make sense of raises :class:`SipParseError`, which the transport logs
and drops so one bad datagram never reaches a dialog.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

_COMPACT = {
    "i": "call-id",
    "m": "contact",
    "e": "content-encoding",
    "l": "content-length",
    "c": "content-type",
    "f": "from",
    "s": "subject",
    "k": "supported",
    "t": "to",
    "v": "via",
    "x": "session-expires",
}
_CANONICAL = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "rseq": "RSeq",
    "min-se": "Min-SE",
}
_MULTI_VALUE = {"via", "route", "record-route", "contact", "allow", "supported"}
_REQUIRED = ("via", "call-id", "cseq", "from", "to")
_STATUS_LINE = re.compile(r"^SIP/2\.0 (\d{3}) ?(.*)$")
_REQUEST_LINE = re.compile(r"^([A-Z]+) (\S+) SIP/2\.0$")

MAGIC_COOKIE = "z9hG4bK"


class SipParseError(ValueError):
    """A datagram that is not a well-formed SIP message."""


def canonical_name(name: str) -> str:
    low = name.strip().lower()
    low = _COMPACT.get(low, low)
    return _CANONICAL.get(low, "-".join(part.capitalize() for part in low.split("-")))


def split_header_values(value: str) -> list[str]:
    """Split a comma-separated header value, respecting quotes and <...>."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for i, ch in enumerate(value):
        if ch == '"' and (i == 0 or value[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        elif ch == "," and not quoted and depth == 0:
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


def new_branch() -> str:
    return MAGIC_COOKIE + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(6)


@dataclass
class SipMessage:
    """One SIP request or response; headers keep order and repeats."""

    method: str | None = None
    uri: str | None = None
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def get(self, name: str) -> str | None:
        key = canonical_name(name)
        for n, v in self.headers:
            if n == key:
                return v
        return None

    def get_all(self, name: str) -> list[str]:
        key = canonical_name(name)
        values: list[str] = []
        for n, v in self.headers:
            if n == key:
                values.extend(split_header_values(v) if key.lower() in _MULTI_VALUE else [v])
        return values

    def add(self, name: str, value: str) -> None:
        self.headers.append((canonical_name(name), value))

    def set(self, name: str, value: str) -> None:
        self.remove(name)
        self.add(name, value)

    def remove(self, name: str) -> None:
        key = canonical_name(name)
        self.headers = [(n, v) for n, v in self.headers if n != key]

    @property
    def call_id(self) -> str:
        return self.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        raw = (self.get("CSeq") or "").split()
        return int(raw[0]), raw[1].upper()

    @property
    def top_via_branch(self) -> str:
        vias = self.get_all("Via")
        return header_param(vias[0], "branch") or "" if vias else ""

    def to_bytes(self) -> bytes:
        if self.is_request:
            lines = [f"{self.method} {self.uri} SIP/2.0"]
        else:
            lines = [f"SIP/2.0 {self.status} {self.reason}"]
        lines.extend(f"{n}: {v}" for n, v in self.headers if n != "Content-Length")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body

    def summary(self) -> str:
        if self.is_request:
            return f"{self.method} {self.uri}"
        return f"{self.status} {self.reason}"


def parse_message(data: bytes) -> SipMessage:
    """Parse one whole message; raise :class:`SipParseError` on anything malformed."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
        if not sep:
            raise SipParseError("no end of headers")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError("headers are not UTF-8") from exc
    lines = text.replace("\r\n", "\n").split("\n")
    msg = _parse_start_line(lines[0].strip())
    _parse_headers(msg, lines[1:])
    for name in _REQUIRED:
        if msg.get(name) is None:
            raise SipParseError(f"missing {name} header")
    try:
        number, method = msg.cseq
    except (ValueError, IndexError) as exc:
        raise SipParseError("bad CSeq") from exc
    if number < 0 or (msg.is_request and method != msg.method):
        raise SipParseError("CSeq does not match the request")
    msg.body = _checked_body(msg, body)
    return msg


def _parse_start_line(line: str) -> SipMessage:
    status = _STATUS_LINE.match(line)
    if status:
        code = int(status.group(1))
        if not 100 <= code <= 699:
            raise SipParseError(f"status code out of range: {code}")
        return SipMessage(status=code, reason=status.group(2).strip())
    request = _REQUEST_LINE.match(line)
    if request:
        return SipMessage(method=request.group(1), uri=request.group(2))
    raise SipParseError(f"bad start line: {line[:60]!r}")


def _parse_headers(msg: SipMessage, lines: list[str]) -> None:
    for line in lines:
        if not line:
            continue
        if line[0] in " \t" and msg.headers:
            name, value = msg.headers[-1]
            msg.headers[-1] = (name, value + " " + line.strip())
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or " " in name.strip():
            raise SipParseError(f"bad header line: {line[:60]!r}")
        msg.headers.append((canonical_name(name), value.strip()))


def _checked_body(msg: SipMessage, body: bytes) -> bytes:
    declared = msg.get("Content-Length")
    if declared is None:
        return body
    try:
        length = int(declared)
    except ValueError as exc:
        raise SipParseError("bad Content-Length") from exc
    if length > len(body):
        raise SipParseError("truncated body")
    return body[:length]


def header_param(value: str, name: str) -> str | None:
    """Return a ;param of a header value (outside any <uri>), or None."""
    tail = value.rsplit(">", 1)[-1] if ">" in value else value
    for part in tail.split(";")[1:]:
        key, _, val = part.partition("=")
        if key.strip().lower() == name.lower():
            return val.strip().strip('"')
    return None


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_USER_UNSAFE = re.compile(r"[^A-Za-z0-9\-_.!~*'()&=+$,;?/]")


def quoted_display_name(name: str) -> str:
    """``name`` as a quoted-string (RFC 3261 25.1): control characters (CR, LF,
    ...) dropped, backslash and double quote escaped; "" when nothing is left."""
    clean = _CONTROL.sub("", name).strip()
    if not clean:
        return ""
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'


def uri_user(user: str) -> str:
    """``user`` with every character RFC 3261 does not allow raw in a user part
    percent-encoded, so a caller ID from a campaign cannot break a header."""
    return _USER_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), user)


def from_header(user: str, host: str, tag: str, display_name: str | None = None) -> str:
    """``"Name" <sip:user@host>;tag=..`` (the name left out when empty)."""
    address = f"<sip:{uri_user(user)}@{host}>;tag={tag}"
    name = quoted_display_name(display_name or "")
    return f"{name} {address}" if name else address


def with_tag(value: str, tag: str) -> str:
    return value if header_param(value, "tag") else f"{value};tag={tag}"


def uri_of(value: str) -> str:
    """The URI inside a name-addr (``"Bob" <sip:b@h>;tag=x``) or the addr-spec itself."""
    if "<" in value:
        start = value.index("<") + 1
        end = value.find(">", start)
        # A missing ">" (seen by fuzzing) must not raise inside a dialog: take the rest.
        return value[start:] if end < 0 else value[start:end]
    return value.split(";", 1)[0].strip()


_HOSTPORT = re.compile(r"^(?:sips?:)?(?:[^@;>]*@)?(\[[^\]]+\]|[^:;>?]+)(?::(\d+))?")


def uri_host_port(uri: str, default_port: int = 5060) -> tuple[str, int]:
    match = _HOSTPORT.match(uri.strip())
    if not match:
        raise SipParseError(f"bad SIP URI: {uri!r}")
    return match.group(1).strip("[]"), int(match.group(2) or default_port)


def uri_params(uri: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in uri.split(";")[1:]:
        key, _, val = part.partition("=")
        params[key.strip().lower()] = val.strip()
    return params


def via_sent_by(via: str) -> tuple[str, int]:
    """(host, port) a response goes to, honouring received= and rport= (RFC 3581)."""
    protocol_and_rest = via.split(None, 1)
    if len(protocol_and_rest) < 2:
        raise SipParseError(f"bad Via: {via[:60]!r}")
    host, port = uri_host_port(protocol_and_rest[1].split(";", 1)[0])
    received = header_param(via, "received")
    rport = header_param(via, "rport")
    try:
        return received or host, int(rport) if rport else port
    except ValueError as exc:
        raise SipParseError(f"bad rport in Via: {via[:60]!r}") from exc


def build_response(request: SipMessage, status: int, reason: str, to_tag: str = "") -> SipMessage:
    """A response echoing Via/From/To/Call-ID/CSeq of ``request`` (RFC 3261 8.2.6)."""
    resp = SipMessage(status=status, reason=reason)
    for via in request.get_all("Via"):
        resp.add("Via", via)
    resp.add("From", request.get("From") or "")
    to = request.get("To") or ""
    resp.add("To", with_tag(to, to_tag) if to_tag and status > 100 else to)
    resp.add("Call-ID", request.call_id)
    resp.add("CSeq", request.get("CSeq") or "")
    return resp
