"""SMS gateways behind one small interface: `send` hands a message over and
says what became of it; `statuses` asks what became of messages sent before
(a gateway that cannot tell answers nothing). Two kinds: a generic HTTP
gateway configured by a URL template, and Kavenegar's REST API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import requests

from callcenter.models import SmsStatus
from callcenter.settings import SmsSettings


@dataclass(frozen=True)
class Handed:
    status: SmsStatus  # SENT (or DELIVERED), or FAILED: not taken
    provider_message_id: str | None = None
    error: str = ""
    retry: bool = True  # FAILED: worth trying again (a 5xx, a timeout)


class SmsProvider(Protocol):
    def send(self, to_e164: str, text: str) -> Handed: ...

    def statuses(self, provider_message_ids: Sequence[str]) -> dict[str, SmsStatus]: ...


class GenericHttpProvider:
    """GET the URL template with {to}, {text} and {sender} filled (URL-encoded);
    a 2xx answer means the gateway took it; a JSON answer's "id" is kept."""

    def __init__(self, settings: SmsSettings, http: requests.Session) -> None:
        self.settings = settings
        self.http = http

    def send(self, to_e164: str, text: str) -> Handed:
        url = self.settings.url_template.format(
            to=quote(to_e164, safe=""),
            text=quote(text, safe=""),
            sender=quote(self.settings.sender, safe=""),
        )
        try:
            response = self.http.get(url, timeout=self.settings.timeout_seconds)
        except requests.RequestException as exc:
            return Handed(SmsStatus.FAILED, error=type(exc).__name__)
        if not 200 <= response.status_code < 300:
            return Handed(
                SmsStatus.FAILED,
                error=f"HTTP {response.status_code}",
                retry=response.status_code >= 500 or response.status_code == 429,
            )
        return Handed(SmsStatus.SENT, _json_id(response))

    def statuses(self, provider_message_ids: Sequence[str]) -> dict[str, SmsStatus]:
        return {}


def _json_id(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    value = body.get("id") if isinstance(body, dict) else None
    return None if value is None else str(value)[:64]


# Kavenegar's message statuses (its REST documentation's table).
KAVENEGAR_STATUS = {
    1: SmsStatus.SENT,  # queued at the gateway
    2: SmsStatus.SENT,  # scheduled
    4: SmsStatus.SENT,  # sent to the operator
    5: SmsStatus.SENT,  # sent to the operator
    6: SmsStatus.FAILED,  # not delivered
    10: SmsStatus.DELIVERED,
    11: SmsStatus.FAILED,  # not delivered (phone off, ...)
    13: SmsStatus.FAILED,  # cancelled
    14: SmsStatus.FAILED,  # blocked by the recipient
    100: SmsStatus.FAILED,  # unknown message id
}


class KavenegarProvider:
    """POST {url}/v1/{api_key}/sms/send.json (receptor, message, sender);
    statuses from {url}/v1/{api_key}/sms/status.json?messageid=a,b."""

    def __init__(self, settings: SmsSettings, http: requests.Session) -> None:
        self.settings = settings
        self.http = http
        self.base = f"{settings.kavenegar_url.rstrip('/')}/v1/{settings.kavenegar_api_key}/sms"

    def _call(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        response = self.http.request(
            method, f"{self.base}/{path}", timeout=self.settings.timeout_seconds, **kwargs
        )
        try:
            body = response.json()
        except ValueError:
            body = {}
        return response.status_code, body if isinstance(body, dict) else {}

    def send(self, to_e164: str, text: str) -> Handed:
        data = {"receptor": to_e164, "message": text}
        if self.settings.sender:
            data["sender"] = self.settings.sender
        try:
            code, body = self._call("POST", "send.json", data=data)
        except requests.RequestException as exc:
            return Handed(SmsStatus.FAILED, error=type(exc).__name__)
        status = body.get("return", {}).get("status", code)
        entries = body.get("entries") or []
        if status != 200 or not entries:
            message = body.get("return", {}).get("message", "")
            return Handed(
                SmsStatus.FAILED,
                error=f"{status} {message}".strip()[:500],
                retry=code >= 500 or status in (418, 429),
            )
        entry = entries[0]
        return Handed(
            KAVENEGAR_STATUS.get(int(entry.get("status", 1)), SmsStatus.SENT),
            str(entry.get("messageid")),
        )

    def statuses(self, provider_message_ids: Sequence[str]) -> dict[str, SmsStatus]:
        if not provider_message_ids:
            return {}
        try:
            _code, body = self._call(
                "GET", "status.json", params={"messageid": ",".join(provider_message_ids)}
            )
        except requests.RequestException:
            return {}
        found: dict[str, SmsStatus] = {}
        for entry in body.get("entries") or []:
            status = KAVENEGAR_STATUS.get(int(entry.get("status", 0)))
            if status is not None:
                found[str(entry.get("messageid"))] = status
        return found


def provider_from(settings: SmsSettings, http: requests.Session) -> SmsProvider | None:
    if settings.provider == "http" and settings.url_template:
        return GenericHttpProvider(settings, http)
    if settings.provider == "kavenegar" and settings.kavenegar_api_key:
        return KavenegarProvider(settings, http)
    return None
