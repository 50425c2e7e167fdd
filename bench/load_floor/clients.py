"""One client process of the load bench: agents and supervisors as asyncio
Socket.IO clients (one `socketio.AsyncClient` each, one event loop).

    python -m bench.load_floor.clients CONFIG.json

Agents do what the workstation (agent_ui/static/agent_ui/agent.js) does:
log in over HTTP, connect, `resume`, `join_campaign` with a phone,
`go_ready`; on `screen_pop` step through the script (`script_move`) until
the customer hangs up (`call_ended`), wrap up for a moment and set a
disposition (`disposition_set`: no decision, not interested with the step
and reason, or a callback); the campaign makes them ready again
(`wrap_up_done`). Supervisors log in, connect and ask `floor_state` as the
live floor does, then take `floor_delta` (or, from older servers,
`floor_call` and `agent.state_changed`) and `floor_snapshot` pushes.

Every receipt is stamped with wall time (`time.time()`): the server
processes run on this machine, so their event stamps share the clock.
SIGTERM: agents finish the call they have, leave the queue (`agent_logout`)
and disconnect; then the results are written to the config's `out` path."""

from __future__ import annotations

import asyncio
import json
import random
import re
import signal
import sys
import time
from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from yarl import URL

CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*>')
VALUE = re.compile(r'value="([^"]*)"')
CALL_STATES = ("dialing", "ringing", "answered", "connected", "ended")
ONCE = ("dialing", "ended")
STAMPS = {
    "dialing": "dialed_at",
    "answered": "answered_at",
    "connected": "connected_at",
    "ended": "ended_at",
}


def stamp(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


@dataclass
class Record:
    """What this process saw, written out at the end."""

    errors: list[tuple[float, str, str]] = field(default_factory=list)
    requests: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    disconnects: int = 0

    def error(self, who: str, what: str) -> None:
        self.errors.append((time.time(), who, what))


async def log_in(base: str, username: str, password: str) -> str:
    """The login form, CSRF token and all; returns the Cookie header."""
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[base])
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(cookie_jar=jar, timeout=timeout) as http:
        async with http.get(f"{base}/login") as response:
            page = await response.text()
        tag = CSRF_INPUT.search(page)
        token = VALUE.search(tag.group(0)) if tag else None
        if token is None:
            raise RuntimeError(f"no CSRF token on {base}/login ({response.status})")
        form = {"csrf_token": token.group(1), "username": username, "password": password}
        async with http.post(f"{base}/login", data=form, allow_redirects=False) as response:
            if response.status != 302:
                raise RuntimeError(f"login {username}: HTTP {response.status}")
        cookies = jar.filter_cookies(URL(base))
        return "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())


class Client:
    def __init__(self, base: str, username: str, password: str, record: Record) -> None:
        self.base = base
        self.username = username
        self.password = password
        self.record = record
        self.sio = socketio.AsyncClient(reconnection=True, reconnection_delay=1)
        self.connected_once = False
        self.leaving = False
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("error", self._on_error)

    async def connect(self) -> None:
        cookie = await log_in(self.base, self.username, self.password)
        await self.sio.connect(
            self.base, headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=60
        )
        self.connected_once = True

    async def request(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        """An acknowledged event, timed; a refusal or a timeout is an error."""
        started = time.perf_counter()
        try:
            reply = await self.sio.call(name, data, timeout=30)
        except (TimeoutError, socketio.exceptions.SocketIOError) as exc:
            self.record.error(self.username, f"{name}: {type(exc).__name__} {exc}")
            return {"ok": False}
        self.record.requests[name].append((time.perf_counter() - started) * 1000)
        if not isinstance(reply, dict) or not reply.get("ok"):
            self.record.error(self.username, f"{name} refused: {reply}")
            return {"ok": False}
        return reply

    async def _on_disconnect(self, *_args: Any) -> None:
        if not self.leaving:
            self.record.disconnects += 1
            self.record.error(self.username, "socket disconnected")

    async def _on_error(self, data: Any) -> None:
        self.record.error(self.username, f"error event: {data}")


class Agent(Client):
    def __init__(
        self,
        base: str,
        username: str,
        password: str,
        record: Record,
        *,
        campaign_id: int,
        wrap_s: float,
        rng: random.Random,
    ) -> None:
        super().__init__(base, username, password, record)
        self.campaign_id = campaign_id
        self.wrap_s = wrap_s
        self.rng = rng
        self.pops: list[tuple[str, float]] = []
        self.ended: list[tuple[str, float]] = []
        self.wrapped: list[tuple[str, float]] = []
        self.dispositions: dict[str, str] = {}
        self.state_events = 0
        self.row_updates = 0
        self.state = ""
        self._since = ""
        self.current: str | None = None
        self._ended_flags: dict[str, asyncio.Event] = {}
        self._work: set[asyncio.Task[None]] = set()
        self.sio.on("screen_pop", self._on_pop)
        self.sio.on("call_ended", self._on_call_ended)
        self.sio.on("wrap_up_done", self._on_wrap_up_done)
        self.sio.on("agent.state_changed", self._on_state)

    async def start(self) -> bool:
        await self.connect()
        view = await self.request("resume", {})
        joined = await self.request(
            "join_campaign", {"campaign_id": self.campaign_id, "phone": f"sip:{self.username}@pbx"}
        )
        ready = await self.request("go_ready", {})
        return bool(view.get("ok") and joined.get("ok") and ready.get("ok"))

    def _flag(self, call_id: str) -> asyncio.Event:
        return self._ended_flags.setdefault(call_id, asyncio.Event())

    async def _on_pop(self, pop: dict[str, Any]) -> None:
        call_id = pop["call"]["id"]
        self.pops.append((call_id, time.time()))
        if any(seen == call_id for seen, _ in self.pops[:-1]):
            self.record.error(self.username, f"screen pop {call_id} again")
            return
        if self.current is not None:
            self.record.error(self.username, f"screen pop {call_id} during {self.current}")
        self.current = call_id
        task = asyncio.get_running_loop().create_task(self._work_call(pop))
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    async def _on_call_ended(self, data: dict[str, Any]) -> None:
        self.ended.append((data["call_id"], time.time()))
        self._flag(data["call_id"]).set()

    async def _on_wrap_up_done(self, data: dict[str, Any]) -> None:
        self.wrapped.append((data["call_id"], time.time()))
        if not data.get("ready"):
            self.record.error(self.username, f"wrap-up of {data['call_id']} did not make me ready")

    async def _on_state(self, data: dict[str, Any]) -> None:
        """A change of state, or the same state's row again with another field
        changed (the phone leg calling, then up): counted apart."""
        if (data["state"], data["since"]) == (self.state, self._since):
            self.row_updates += 1
            return
        self.state_events += 1
        self.state, self._since = data["state"], data["since"]

    async def _work_call(self, pop: dict[str, Any]) -> None:
        call_id = pop["call"]["id"]
        steps = pop["script"]["steps"]
        step = int(pop["call"]["current_step"])
        ended = self._flag(call_id)
        goal = self.rng.randint(3, len(steps) - 1)
        while step < goal and not ended.is_set():
            try:
                await asyncio.wait_for(ended.wait(), self.rng.uniform(1.0, 2.5))
            except TimeoutError:
                moved = await self.request(
                    "script_move", {"call_id": call_id, "kind": "next", "step": step + 1}
                )
                if moved.get("ok"):
                    step = int(moved["step"])
        try:
            await asyncio.wait_for(ended.wait(), 900)
        except TimeoutError:
            self.record.error(self.username, f"call {call_id} never ended")
            return
        await asyncio.sleep(self.rng.uniform(0.5, 2 * self.wrap_s - 0.5))
        data = self._disposition(call_id, steps[step - 1])
        self.dispositions[call_id] = data["code"]
        self.current = None
        await self.request("disposition_set", data)
        self._ended_flags.pop(call_id, None)

    def _disposition(self, call_id: str, step: dict[str, Any]) -> dict[str, Any]:
        draw = self.rng.random()
        reasons = [r for r in step["rejections"] if not r["free_text"]]
        if draw < 0.25 and reasons:
            return {
                "call_id": call_id,
                "code": "not_interested",
                "notes": "",
                "rejection": {
                    "step": step["number"],
                    "reason_code": self.rng.choice(reasons)["code"],
                    "reason_text": "",
                },
            }
        if draw < 0.40:
            when = datetime.now(UTC) + timedelta(days=1, minutes=self.rng.randint(0, 600))
            return {
                "call_id": call_id,
                "code": "callback",
                "notes": "call back tomorrow",
                "callback_at": when.isoformat(),
                "callback_for": "mine",
            }
        return {"call_id": call_id, "code": "no_decision", "notes": "thinking about it"}

    async def leave(self, seconds: float) -> None:
        """Finish the call on screen, leave the queue, disconnect."""
        deadline = time.monotonic() + seconds
        while self._work and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        if self._work:
            self.record.error(self.username, "still on a call at the end")
        await self.request("agent_logout", {})
        deadline = time.monotonic() + 10
        while self.state != "logged_out" and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        self.leaving = True
        await self.sio.disconnect()

    def results(self) -> dict[str, Any]:
        return {
            "pops": self.pops,
            "ended": self.ended,
            "wrapped": self.wrapped,
            "dispositions": self.dispositions,
            "state_events": self.state_events,
            "row_updates": self.row_updates,
        }


class Supervisor(Client):
    def __init__(
        self,
        base: str,
        username: str,
        password: str,
        record: Record,
        delays: dict[str, tuple[array[float], array[float]]],
    ) -> None:
        super().__init__(base, username, password, record)
        self.delays = delays
        self.seen: dict[str, int] = {}
        self.call_duplicates = 0
        self.once_rows: dict[tuple[str, str], set[int]] = {}
        self.duplicate_examples: list[dict[str, Any]] = []
        self.state_rows: dict[int, set[int]] = {}
        self.state_events = 0
        self.row_updates = 0
        self.state_duplicates = 0
        self.snapshots = 0
        self.abandons = 0
        self.pushes: dict[str, int] = {}
        self.sio.on("floor_call", self._counted("floor_call", self._on_call))
        self.sio.on("agent.state_changed", self._counted("agent.state_changed", self._on_state))
        self.sio.on("floor_delta", self._counted("floor_delta", self._on_delta))
        self.sio.on("floor_snapshot", self._counted("floor_snapshot", self._on_snapshot))
        self.sio.on("floor_abandon", self._counted("floor_abandon", self._on_abandon))

    def _counted(self, name: str, handler: Any) -> Any:
        """Every push of `name` is counted (the figure per call attempt)."""

        async def counted(data: dict[str, Any]) -> None:
            self.pushes[name] = self.pushes.get(name, 0) + 1
            await handler(data)

        return counted

    async def _on_delta(self, delta: dict[str, Any]) -> None:
        """One coalesced push: the latest row of each call and agent that
        changed since the room's last one."""
        for data in delta["agents"]:
            await self._on_state(data)
        for row in delta["calls"]:
            await self._on_call(row)

    async def start(self) -> bool:
        await self.connect()
        return bool((await self.request("floor_state", {})).get("ok"))

    def _delay(self, kind: str, at: float | None, now: float) -> None:
        if at is not None:
            received, delay = self.delays[kind]
            received.append(now)
            delay.append((now - at) * 1000)

    async def _on_call(self, row: dict[str, Any]) -> None:
        """The first row of each state is the change; a connected call's row
        comes again when its agent moves through the script (`step`)."""
        now = time.time()
        state = row["state"]
        bit = 1 << CALL_STATES.index(state)
        mask = self.seen.get(row["call_id"], 0)
        whole = hash(tuple(sorted((name, repr(value)) for name, value in row.items())))
        if mask & bit:
            # the state again: a duplicate if the very same row, else an update
            once = self.once_rows.get((row["call_id"], state))
            if once is not None and whole in once:
                self.call_duplicates += 1
                if len(self.duplicate_examples) < 5:
                    self.duplicate_examples.append(row)
            elif once is not None:
                once.add(whole)
            return
        self.seen[row["call_id"]] = mask | bit
        if state in ONCE:
            self.once_rows[(row["call_id"], state)] = {whole}
        if state in STAMPS:
            self._delay(f"call {state}", stamp(row[STAMPS[state]]), now)

    async def _on_state(self, data: dict[str, Any]) -> None:
        """A change of state is counted, with its delay from `since`. The same
        state's row may come again with another field changed (the phone leg
        calling, then up): an update, with no delay (`since` may be minutes
        old). The very same row again is a duplicate push."""
        now = time.time()
        key = hash((data["agent_id"], data["since"], data["state"]))
        whole = hash(tuple(sorted((name, repr(value)) for name, value in data.items())))
        rows = self.state_rows.get(key)
        if rows is not None:
            if whole in rows:
                self.state_duplicates += 1
            else:
                rows.add(whole)
                self.row_updates += 1
            return
        self.state_rows[key] = {whole}
        self.state_events += 1
        if data.get("from_state") is not None:
            # A change; not an agent's row as it joins the campaign, whose
            # state (logged out) began when it last left, minutes before.
            self._delay("agent state", stamp(data["since"]), now)

    async def _on_snapshot(self, _data: dict[str, Any]) -> None:
        self.snapshots += 1

    async def _on_abandon(self, _data: dict[str, Any]) -> None:
        self.abandons += 1

    async def leave(self) -> None:
        self.leaving = True
        await self.sio.disconnect()

    def results(self) -> dict[str, Any]:
        by_state = {
            state: sorted(cid for cid, mask in self.seen.items() if mask & (1 << index))
            for index, state in enumerate(CALL_STATES)
            if state in ("dialing", "ended")
        }
        seen_at_all = sorted(self.seen)
        return {
            "pushes": self.pushes,
            "calls_seen": by_state | {"any": seen_at_all},
            "call_duplicates": self.call_duplicates,
            "duplicate_examples": self.duplicate_examples,
            "state_events": self.state_events,
            "row_updates": self.row_updates,
            "state_duplicates": self.state_duplicates,
            "snapshots": self.snapshots,
            "abandons": self.abandons,
        }


async def loop_lag(stop: asyncio.Event, lags: array[float]) -> None:
    """How late the loop wakes from a 100 ms sleep: a busy client shows here."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.1)
        lags.append((time.perf_counter() - started - 0.1) * 1000)


async def start_all(clients: list[Any], record: Record, parallel: int = 8) -> int:
    gate = asyncio.Semaphore(parallel)

    async def one(client: Any) -> bool:
        async with gate:
            try:
                return bool(await client.start())
            except Exception as exc:
                record.error(client.username, f"start: {type(exc).__name__} {exc}")
                return False

    return sum(await asyncio.gather(*(one(client) for client in clients)))


async def main(config: dict[str, Any]) -> None:
    out = Path(config["out"])
    record = Record()
    rng = random.Random(config["seed"])
    urls = config["web_urls"]
    delays: dict[str, tuple[array[float], array[float]]] = defaultdict(
        lambda: (array("d"), array("d"))
    )
    supervisors = [
        Supervisor(urls[n % len(urls)], name, config["password"], record, delays)
        for n, name in enumerate(config["supervisors"])
    ]
    agents = [
        Agent(
            urls[n % len(urls)],
            name,
            config["password"],
            record,
            campaign_id=config["campaign_id"],
            wrap_s=config["wrap_s"],
            rng=random.Random(rng.random()),
        )
        for n, name in enumerate(config["agents"])
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    lags: array[float] = array("d")
    lag_task = loop.create_task(loop_lag(stop, lags))
    started = await start_all(supervisors, record) + await start_all(agents, record)
    Path(config["status"]).write_text(json.dumps({"ready": started}))
    await stop.wait()
    await asyncio.gather(*(agent.leave(config["leave_s"]) for agent in agents))
    await asyncio.gather(*(supervisor.leave() for supervisor in supervisors))
    await lag_task
    delay_files = {}
    for kind, (received, delay) in delays.items():
        path = out.with_name(f"{out.stem}-{kind.replace(' ', '_')}.bin")
        with path.open("wb") as handle:
            received.tofile(handle)
            delay.tofile(handle)
        delay_files[kind] = str(path)
    out.write_text(
        json.dumps(
            {
                "agents": {agent.username: agent.results() for agent in agents},
                "supervisors": {s.username: s.results() for s in supervisors},
                "supervisor_delays": delay_files,
                "requests": record.requests,
                "errors": record.errors,
                "disconnects": record.disconnects,
                "loop_lag_ms": list(lags),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
