"""The dialer's texts about its trunk and the agents' phones, in the reader's
language.

The dialer writes them in English: why the trunk is healthy or held, what
became of its registration and OPTIONS (dialer/sip/ua.py, registration.py,
keepalive.py, trunk.py, floor_reports.py), and why an agent's phone was
lost (dialer/agent_legs.py, connector.py). They reach the browsers of
readers of both languages (the floor's snapshot, an agent's status), so,
as with the pacer's reasons (callcenter/pacer_reasons.py), each page
carries every text's pattern with its translation and its script fills in
the values: digits in the reader's own, a nested `reason` translated in
turn. A text no pattern knows, or a SIP reason phrase, is kept as written."""

from __future__ import annotations

from callcenter.errors import N_

# One pattern per text the dialer writes, matched whole.
TRUNK: tuple[tuple[str, str], ...] = (
    (r"not yet used", N_("not used yet")),
    (r"trunk answers", N_("the trunk answers")),
    (r"trunk healthy again", N_("the trunk answers again")),
    (r"trunk unhealthy", N_("the trunk does not answer")),
    (
        r"trunk (?P<address>\S+) did not answer (?P<count>\d+) requests in a row",
        N_("the trunk %(address)s did not answer %(count)s requests in a row"),
    ),
    (r"OPTIONS keepalive to the trunk timed out", N_("the trunk did not answer OPTIONS in time")),
    (
        r"trying the trunk again \(it does not answer OPTIONS\): (?P<reason>.+)",
        N_("trying the trunk again (it does not answer OPTIONS): %(reason)s"),
    ),
    (r"not yet sent", N_("not sent yet")),
    (r"registered for (?P<seconds>\d+) s", N_("registered for %(seconds)s s")),
    (r"unregistered", N_("unregistered")),
    (r"REGISTER failed: (?P<reason>.+)", N_("REGISTER failed: %(reason)s")),
    (
        r"stopped; the registrar did not confirm the unregister in (?P<seconds>[\d.]+) s",
        N_("stopped; the registrar did not confirm the unregister in %(seconds)s s"),
    ),
    (r"stopped; unregister failed: (?P<reason>.+)", N_("stopped; unregister failed: %(reason)s")),
    (r"Timer B: no response", N_("no response from the trunk")),
    (r"Timer F: no answer to (?P<method>[A-Z]+)", N_("no answer to %(method)s")),
    (r"transport error: (?P<error>.+)", N_("cannot send to the trunk: %(error)s")),
    (r"simulated( carrier)?", N_("simulated trunk")),
)

PHONE_LOST: tuple[tuple[str, str], ...] = (
    (r"phone hung up: (?P<reason>.+)", N_("the phone hung up: %(reason)s")),
    (r"phone did not answer: (?P<reason>.+)", N_("the phone did not answer: %(reason)s")),
    (r"no phone leg up when a call came", N_("the phone was not connected when a call came")),
    (r"no reason given", N_("no reason given")),
    (r"no response", N_("no response")),
    (r"no_answer", N_("no answer")),
    (r"busy", N_("busy")),
    (r"failed", N_("failed")),
)
