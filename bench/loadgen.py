"""The load generator's three processes: HTTP (SOS and operators), telemetry sockets, consoles.

Each runs its own event loop (uvloop when installed) in a spawned process, so the generator
spreads over the cores like the server and no stream's clock waits on another's work. All
three are kept cheap, because on a 2-core machine every cycle they spend is taken from the
server they measure: one keep-alive aiohttp session, the minimal :mod:`bench.wsclient`
protocol (no task per socket), hand-written fix frames, and consoles that look for markers in
the raw bytes instead of parsing every frame. Each process writes its raw figures to a JSON
file that :mod:`bench.load` summarises.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp  # installed with twilio; its client costs a fraction of httpx's per request

from bench.wsclient import TextClient, open_text_client
from data.events import Channel

CASES_CHANNEL = Channel.CASE
POSITIONS_CHANNEL = Channel.UNIT_POSITION
CONNECT_AT_ONCE = 50  # sockets opening concurrently: the server authenticates each one
#: Shortest sleep of a scheduler. A timed wake-up costs ~0.1 ms of CPU on the 2-core VM
#: (an I/O wake-up ~0.01-0.04 ms): the schedulers sleep until the next item is due, never
#: less than this, and send whatever is due when they wake.
MIN_TICK_S = 0.01
METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class Signals:
    """Start and stop shared with the orchestrator (spawn-context events and a double)."""

    ready: Any  # set by the process once connected and able to start
    go: Any  # set by the orchestrator once every process is ready
    t0: Any  # multiprocessing.Value("d"): the common time.monotonic() origin of the run
    stop: Any  # set by the orchestrator when the consoles may stop listening


@dataclass(frozen=True)
class HttpPlan:
    """What the HTTP process offers: SOS arrivals and the operators working a share of them."""

    base: str
    out: str
    seconds: float
    rate: float
    points: list[tuple[float, float]]  # road points of the region: where people call from
    operators: list[str]  # access tokens, worked round robin
    operator_share: float
    max_in_flight: int


@dataclass(frozen=True)
class TelemetryPlan:
    """Every unit's own socket to ``/ws/telemetry`` and the total fix rate they share."""

    url: str  # ws://host:port/ws/telemetry
    out: str
    seconds: float
    rate: float
    token: str
    units: list[tuple[str, tuple[float, float]]]  # unit id and its station (a road point)
    step_m: float = 15.0
    drain_s: float = 10.0  # for the last acks: an overloaded server stores fixes seconds late


@dataclass(frozen=True)
class ConsolesPlan:
    """Dispatch consoles subscribed to cases and unit positions, a share of them measuring."""

    url: str  # ws://host:port/ws
    out: str
    token: str
    count: int
    measure_share: float
    position_sample_every: int = 10


def run_process(main: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
    """Spawn target: ``main(*args)`` on uvloop when it is installed, else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(*args))
    else:
        uvloop.run(main(*args))


async def _until(delay: float) -> None:
    """Sleep ``delay`` seconds, or one tick when it is shorter."""
    await asyncio.sleep(max(delay, MIN_TICK_S))


async def _settled(client: TextClient, ready: asyncio.Future[None], timeout: float) -> None:
    """Wait until ``ready`` (the server's answer) or the socket closes, whichever comes first."""
    await asyncio.wait([ready, client.closed], timeout=timeout,
                       return_when=asyncio.FIRST_COMPLETED)
    if not ready.done() or client.closed.done():
        raise ConnectionError("closed before ready" if client.closed.done() else "no answer")


async def _start(signals: Signals) -> float:
    """Report ready, wait for the go and for the common origin; return the origin."""
    signals.ready.set()
    await asyncio.to_thread(signals.go.wait)
    t0 = signals.t0.value
    await asyncio.sleep(max(0.0, t0 - time.monotonic()))
    return t0


def near(point: tuple[float, float], metres: float) -> tuple[float, float]:
    """Somewhere within about ``metres`` of a point."""
    lat, lng = point
    d_lat = random.uniform(-metres, metres) / METRES_PER_DEGREE
    d_lng = random.uniform(-metres, metres) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
    return lat + d_lat, lng + d_lng


# --------------------------------------------------------------------------- HTTP


@dataclass
class HttpRecorder:
    """Every request as (label, start, latency, status), times in s from the common origin."""

    t0: float
    requests: list[tuple[str, float, float, int]] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    shed: int = 0

    async def timed(self, http: aiohttp.ClientSession, label: str, method: str, url: str,
                    **kwargs: Any) -> tuple[int, bytes]:
        start = time.monotonic()
        try:
            async with http.request(method, url, **kwargs) as response:
                status, body = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            status, body = 0, b""
            key = f"transport_{type(exc).__name__}"
            self.outcomes[key] = self.outcomes.get(key, 0) + 1
        end = time.monotonic()
        self.requests.append((label, start - self.t0, end - start, status))
        return status, body


async def _operator_flow(rec: HttpRecorder, http: aiohttp.ClientSession,
                         headers: dict[str, str], case_id: str) -> None:
    """Triage, dispatch, arrival and closing of one case, as an operator would."""
    base = f"/api/v1/emergency/cases/{case_id}"
    status, _ = await rec.timed(http, "triage", "POST", base + "/triage", headers=headers,
                                json={"severity": random.choice(["medium", "high", "critical"])})
    if status != 200:
        return
    status, _ = await rec.timed(http, "dispatch", "POST", base + "/dispatch", json={},
                                headers=headers)
    if status != 200:
        if status == 409:
            rec.outcomes["dispatch_no_unit"] = rec.outcomes.get("dispatch_no_unit", 0) + 1
        return
    await asyncio.sleep(random.uniform(0.5, 2.0))
    status, _ = await rec.timed(http, "arrive", "POST", base + "/arrive", json={},
                                headers=headers)
    if status == 200:
        await rec.timed(http, "close", "POST", base + "/close", json={}, headers=headers)


async def _sos_load(rec: HttpRecorder, http: aiohttp.ClientSession, plan: HttpPlan) -> None:
    """Open-loop SOS arrivals at ``plan.rate`` per second; a share goes on to the operators.

    Each case is worked by one of the operators (round robin): a dispatch room has several
    people, each under the per-caller request limit.
    """
    tasks: set[asyncio.Task] = set()
    in_flight = asyncio.Semaphore(plan.max_in_flight)
    operators = [{"Authorization": f"Bearer {t}"} for t in plan.operators]
    phones = random.randrange(10**6) * 10

    async def one(n: int) -> None:
        async with in_flight:
            # People call from buildings along the roads, not from the middle of the hills.
            lat, lng = near(random.choice(plan.points), 30.0)
            status, body = await rec.timed(
                http, "sos", "POST", "/api/v1/emergency/cases",
                json={"lat": lat, "lng": lng, "symptom_category": "chest_pain",
                      "reporter_phone": f"+92300{(phones + n) % 10_000_000:07d}"},
                headers={"Idempotency-Key": str(uuid.uuid4())})
        if status == 201 and random.random() < plan.operator_share:
            case_id = json.loads(body)["id"]
            await _operator_flow(rec, http, operators[n % len(operators)], case_id)

    n = 0
    if plan.rate <= 0:
        return
    while (elapsed := time.monotonic() - rec.t0) < plan.seconds:
        due = int(elapsed * plan.rate)
        while n < due:
            n += 1
            if in_flight.locked():
                rec.shed += 1  # the generator will not queue unboundedly: counted, not sent
                continue
            task = asyncio.create_task(one(n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await _until(min((n + 1) / plan.rate, plan.seconds) - elapsed)
    await asyncio.gather(*tasks, return_exceptions=True)


async def http_main(plan: HttpPlan, signals: Signals) -> None:
    """The HTTP process: SOS intake and operator flows on one keep-alive session."""
    # Idle connections are dropped before uvicorn's 5 s keep-alive does: reusing one the
    # server is closing fails the request (ServerDisconnectedError) for no fault of its own.
    connector = aiohttp.TCPConnector(limit=plan.max_in_flight * 2 + 50, keepalive_timeout=4.0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(plan.base, connector=connector, timeout=timeout) as http:
        rec = HttpRecorder(await _start(signals))
        await _sos_load(rec, http, plan)
    Path(plan.out).write_text(json.dumps({
        "requests": [(label, round(s, 5), round(lat, 5), st)
                     for label, s, lat, st in rec.requests],
        "outcomes": rec.outcomes, "shed": rec.shed,
    }))


# --------------------------------------------------------------------------- telemetry


@dataclass
class TelemetryTally:
    """What the server answered to the fixes of every unit socket."""

    t0: float
    sent: int = 0
    accepted: int = 0
    acks: int = 0  # ack messages (each covers every fix up to its n)
    nacks: dict[str, int] = field(default_factory=dict)
    nack_after_ack: int = 0
    samples: list[tuple[float, float]] = field(default_factory=list)  # (sent, ack latency)
    errors: dict[str, int] = field(default_factory=dict)
    skipped: int = 0  # fixes due on a socket the server had closed

    def count(self, bucket: dict[str, int], key: str) -> None:
        bucket[key] = bucket.get(key, 0) + 1


class UnitSocket:
    """One ambulance on its own telemetry socket: where it is, and its fixes not yet acked."""

    __slots__ = ("client", "heading", "lat", "lng", "n", "nacked", "pending", "ready",
                 "station", "tally", "unit_id")

    def __init__(self, unit_id: str, where: tuple[float, float], tally: TelemetryTally) -> None:
        self.unit_id = unit_id
        self.station = where
        self.lat, self.lng = where
        self.heading = float(random.randrange(360))
        self.n = 0
        self.pending: deque[tuple[int, float]] = deque()  # (n, wall time sent)
        self.nacked: set[int] = set()
        self.tally = tally
        self.client: TextClient | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def move(self, step_m: float) -> None:
        """About ``step_m`` along the heading, turning, kept within 100 m of its station (an
        ambulance on standby patrols its post; it stays on the road network's doorstep)."""
        # Rounded as sent, and below 360 once rounded: the server refuses a heading of 360.0.
        self.heading = round((self.heading + random.uniform(-20, 20)) % 360, 1) % 360
        rad = math.radians(self.heading)
        lat = self.lat + step_m * math.cos(rad) / METRES_PER_DEGREE
        lng = self.lng + step_m * math.sin(rad) / (METRES_PER_DEGREE * math.cos(
            math.radians(self.lat)))
        s_lat, s_lng = self.station
        off_n = (lat - s_lat) * METRES_PER_DEGREE
        off_e = (lng - s_lng) * METRES_PER_DEGREE * math.cos(math.radians(s_lat))
        if math.hypot(off_n, off_e) > 100.0:
            self.heading = round(self.heading + 180, 1) % 360
            return
        self.lat, self.lng = lat, lng

    def send_fix(self, recorded_at: str) -> None:
        """One fix frame, formatted by hand: json.dumps costs more than the send itself."""
        client = self.client
        if client is None or client.closed.done():
            self.tally.skipped += 1
            return
        self.n += 1
        client.send_text(
            f'{{"type":"fix","n":{self.n},"unit_id":"{self.unit_id}","lat":{self.lat:.6f},'
            f'"lng":{self.lng:.6f},"heading":{self.heading:.1f},"speed":12.5,'
            f'"recorded_at":"{recorded_at}"}}'
        )
        self.pending.append((self.n, time.time()))
        self.tally.sent += 1

    def on_text(self, payload: bytes, received_at: float) -> None:
        message = json.loads(payload)
        for m in message if isinstance(message, list) else (message,):
            kind = m.get("type")
            if kind == "ack":
                self._acked(m["n"], received_at)
            elif kind == "nack":
                self._nacked(m.get("n"), str(m.get("code")))
            elif kind == "ready":
                if not self.ready.done():
                    self.ready.set_result(None)
            elif kind == "error":
                self.tally.count(self.tally.errors, str(m.get("code")))

    def _acked(self, upto: int, received_at: float) -> None:
        tally, pending, t0_wall = self.tally, self.pending, self.tally.t0
        tally.acks += 1
        while pending and pending[0][0] <= upto:
            n, sent_at = pending.popleft()
            if n in self.nacked:
                self.nacked.discard(n)
                continue
            tally.accepted += 1
            tally.samples.append((sent_at - t0_wall, received_at - sent_at))

    def _nacked(self, n: int | None, code: str) -> None:
        self.tally.count(self.tally.nacks, code)
        if n is None:
            return
        if self.pending and self.pending[0][0] <= n:
            self.nacked.add(n)
        else:  # an ack already covered it: it was counted as stored
            self.tally.accepted -= 1
            self.tally.nack_after_ack += 1


async def _open_unit(unit: UnitSocket, url: str, gate: asyncio.Semaphore,
                     tally: TelemetryTally) -> None:
    async with gate:
        try:
            unit.client = await open_text_client(url, unit.on_text, raw=True)
            await _settled(unit.client, unit.ready, 30)
        except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
            tally.count(tally.errors, f"connect: {str(exc)[:80]}")
            if unit.client is not None:
                unit.client.close()
            unit.client = None


async def telemetry_main(plan: TelemetryPlan, signals: Signals) -> None:
    """The telemetry process: the fixes due at each tick, round robin over the unit sockets.

    Round robin spaces each unit's fixes evenly (``units / rate`` apart) with no task or timer
    per fix; all the fixes of a tick share one ``recorded_at``.
    """
    tally = TelemetryTally(t0=0.0)
    units = [UnitSocket(u, station, tally) for u, station in plan.units]
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    url = f"{plan.url}?token={plan.token}"
    await asyncio.gather(*(_open_unit(u, url, gate, tally) for u in units))
    live = [u for u in units if u.client is not None]
    t0 = await _start(signals)
    # Samples are stored as wall time minus this wall-clock origin (acks carry wall times).
    tally.t0 = time.time() - (time.monotonic() - t0)
    count, sent = len(live), 0
    while live and plan.rate > 0 and (elapsed := time.monotonic() - t0) < plan.seconds:
        due = int(elapsed * plan.rate)
        if due > sent:
            recorded_at = datetime.now(UTC).isoformat(timespec="milliseconds")
            for k in range(sent, due):
                unit = live[k % count]
                unit.move(plan.step_m)
                unit.send_fix(recorded_at)
            sent = due
        await _until(min((sent + 1) / plan.rate, plan.seconds) - elapsed)
    deadline = time.monotonic() + plan.drain_s
    while any(u.pending for u in live) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    closed_early = sum(1 for u in live if u.client is not None and u.client.closed.done())
    for u in live:
        if u.client is not None:
            u.client.close()
    Path(plan.out).write_text(json.dumps({
        "sockets": len(units), "ready": count, "closed_early": closed_early,
        "sent": tally.sent, "accepted": tally.accepted, "acks": tally.acks,
        "unacked": sum(len(u.pending) for u in live), "nacks": tally.nacks,
        "nack_after_ack": tally.nack_after_ack, "errors": tally.errors,
        "skipped": tally.skipped,
        "samples": [(round(s, 4), round(lat, 5)) for s, lat in tally.samples],
    }))


# --------------------------------------------------------------------------- consoles

# Compact JSON is what the server sends (Event.text); the patterns also allow a space.
_CASE_RAISE = b'"case.raise"'
_CASE_RAISE_EVENT = re.compile(rb'"event_type":\s*"case\.raise"')
_MESSAGE_START = b'{"type"'
_RAISED_AT = re.compile(rb'"raised_at":\s*"([^"]+)"')
_POSITION = f'"{Channel.UNIT_POSITION}"'.encode()
#: Only position events carry ``recorded_at``: anchoring on their channel too would cost 10x.
_RECORDED_AT = re.compile(rb'"recorded_at":\s*"([^"]+)"')


@dataclass
class ConsoleTally:
    """Frames and bytes read by every console; delays measured by the measuring ones."""

    frames: int = 0
    bytes: int = 0
    case_raises: int = 0  # case.raise events seen by measuring consoles
    case_delays: list[float] = field(default_factory=list)
    position_delays: list[float] = field(default_factory=list)
    slow_path: int = 0  # frames the byte scan could not read: parsed whole instead
    errors: dict[str, int] = field(default_factory=dict)


def _stamp(raw: bytes | str) -> float:
    text = raw.decode() if isinstance(raw, bytes | bytearray) else raw
    return datetime.fromisoformat(text).timestamp()


def _raised_at_parsed(payload: bytes) -> list[float]:
    """``raised_at`` of every case.raise event, the slow way: parse the whole frame."""
    message = json.loads(payload)
    out = []
    for m in message if isinstance(message, list) else (message,):
        if m.get("type") == "event" and m.get("event_type") == "case.raise":
            raised_at = (m.get("data") or {}).get("raised_at")
            if raised_at:
                out.append(_stamp(raised_at))
    return out


def raised_at_times(payload: bytes) -> tuple[list[float], bool]:
    """``raised_at`` of every case.raise event in a frame, and whether the frame was parsed.

    A batched frame also carries hundreds of position events: rather than parse them all,
    read ``raised_at`` between each case.raise marker and the next message of the frame.
    """
    out = []
    for event in _CASE_RAISE_EVENT.finditer(payload):
        end = payload.find(_MESSAGE_START, event.end())
        match = _RAISED_AT.search(payload, event.end(), len(payload) if end < 0 else end)
        if match is None:
            return _raised_at_parsed(payload), True
        out.append(_stamp(match.group(1)))
    return out, False


class Console:
    """One console socket: counts what it reads; when measuring, also times what it sees."""

    __slots__ = ("client", "measuring", "position_frames", "sample_every", "subscribed",
                 "tally", "wanted")

    def __init__(self, tally: ConsoleTally, *, measuring: bool, sample_every: int,
                 wanted: int) -> None:
        self.tally = tally
        self.measuring = measuring
        self.sample_every = sample_every
        self.position_frames = random.randrange(sample_every)  # consoles sample out of step
        self.wanted = wanted  # "subscribed" answers still awaited
        self.subscribed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.client: TextClient | None = None

    def on_text(self, payload: bytes, received_at: float) -> None:
        tally = self.tally
        tally.frames += 1
        tally.bytes += len(payload)
        if self.wanted:
            self._setup(payload)
        if not self.measuring:
            return
        if _CASE_RAISE in payload:
            times, parsed = raised_at_times(payload)
            tally.slow_path += parsed
            tally.case_raises += len(times)
            tally.case_delays.extend(received_at - t for t in times)
        if _POSITION in payload:
            self.position_frames += 1
            if self.position_frames % self.sample_every == 0:
                tally.position_delays.extend(
                    received_at - _stamp(m.group(1)) for m in _RECORDED_AT.finditer(payload))

    def _setup(self, payload: bytes) -> None:
        """Until both subscriptions are confirmed: count them, note refusals."""
        if b'"error"' in payload:
            message = json.loads(payload)
            for m in message if isinstance(message, list) else (message,):
                if m.get("type") == "error":
                    key = str(m.get("code"))
                    self.tally.errors[key] = self.tally.errors.get(key, 0) + 1
        self.wanted -= min(self.wanted, payload.count(b'"type":"subscribed"'))
        if not self.wanted and not self.subscribed.done():
            self.subscribed.set_result(None)


async def _open_console(console: Console, url: str, channels: list[str],
                        gate: asyncio.Semaphore) -> None:
    async with gate:
        try:
            console.client = await open_text_client(url, console.on_text, raw=True)
            for channel in channels:
                console.client.send_text(json.dumps(
                    {"type": "subscribe", "channel": channel, "filters": {}}))
            await _settled(console.client, console.subscribed, 60)
        except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
            key = f"connect: {str(exc)[:80]}"
            console.tally.errors[key] = console.tally.errors.get(key, 0) + 1
            if console.client is not None:
                console.client.close()
            console.client = None


async def consoles_main(plan: ConsolesPlan, signals: Signals) -> None:
    """The consoles process: connect, subscribe, listen until told to stop."""
    tally = ConsoleTally()
    channels = [CASES_CHANNEL, POSITIONS_CHANNEL]
    # Measuring consoles spread evenly over the connection order, hence over both workers.
    consoles = [Console(tally, measuring=int((i + 1) * plan.measure_share)
                        > int(i * plan.measure_share),
                        sample_every=plan.position_sample_every, wanted=len(channels))
                for i in range(plan.count)]
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    url = f"{plan.url}?token={plan.token}&batch=1"
    await asyncio.gather(*(_open_console(c, url, channels, gate) for c in consoles))
    live = [c for c in consoles if c.client is not None]
    await _start(signals)
    frames_at_start, bytes_at_start = tally.frames, tally.bytes
    await asyncio.to_thread(signals.stop.wait)
    closed_early = sum(1 for c in live if c.client is not None and c.client.closed.done())
    for c in live:
        if c.client is not None:
            c.client.close()
    Path(plan.out).write_text(json.dumps({
        "connected": len(live), "measuring": sum(c.measuring for c in live),
        "closed_early": closed_early, "frames": tally.frames - frames_at_start,
        "bytes": tally.bytes - bytes_at_start, "case_raises": tally.case_raises,
        "slow_path_frames": tally.slow_path, "errors": tally.errors,
        "case_delays": [round(d, 5) for d in tally.case_delays],
        "position_delays": [round(d, 5) for d in tally.position_delays],
    }))
