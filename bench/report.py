"""Renders docs/benchmarks.md and its plots from the JSON that bench/load.py and faults.py wrote."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BENCH = DOCS / "bench"


def _ping_label(load: dict[str, Any]) -> str:
    """GPS fixes: acks over /ws/telemetry, or (older runs) one HTTP request per ping."""
    return "gps_fix_ack" if "gps_fix_ack" in load["over_time"] else "gps_ping"


def _plot_latency(load: dict[str, Any], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for ax, label in zip(axes, ["sos", _ping_label(load)], strict=True):
        rows = load["over_time"].get(label, [])
        seconds = [r["second"] for r in rows]
        for key, style in (("p50_ms", "-"), ("p95_ms", "--"), ("p99_ms", ":")):
            ax.plot(seconds, [r.get(key, 0) for r in rows], style, label=key[:-3].upper())
        ax.set_title(f"{label}: latency per second")
        ax.set_xlabel("seconds into the run")
        ax.set_ylabel("ms")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_propagation(load: dict[str, Any], path: Path) -> None:
    panels = [("propagation_histogram", "SOS raised → event on a console socket", "deliveries"),
              ("position_propagation_histogram", "GPS fix recorded → position on a console",
               "sampled positions")]
    panels = [p for p in panels if load.get(p[0], {}).get("counts")] or panels[:1]
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for ax, (key, title, ylabel) in zip(axes[0], panels, strict=True):
        hist = load[key]
        width = hist["bin_ms"]
        ax.bar([i * width for i in range(len(hist["counts"]))], hist["counts"], width=width,
               align="edge", color="#3060a0")
        ax.set_title(title)
        ax.set_xlabel("ms")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _fix_rates(load: dict[str, Any]) -> None:
    """Rates per second of activity (older runs divided by the offered duration)."""
    if "active_s" in load:
        return
    last = max((row["second"] for rows in load["over_time"].values() for row in rows), default=0)
    load["active_s"] = max(float(last + 1), load["offered"]["seconds"])
    for e in load["endpoints"].values():
        e["throughput_per_s"] = round(e.get("count", 0) / load["active_s"], 1)


def _http_rate(load: dict[str, Any]) -> float:
    """Successful HTTP requests of every endpoint per second of activity."""
    return sum(e.get("count", 0) for e in load["endpoints"].values()) / load["active_s"]


def _endpoint_table(load: dict[str, Any]) -> list[str]:
    lines = ["| endpoint | ok requests | throughput /s | P50 ms | P95 ms | P99 ms | max ms | "
             "errors (5xx/transport) | statuses |",
             "|---|---|---|---|---|---|---|---|---|"]
    for label, e in load["endpoints"].items():
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(e["statuses"].items()))
        lines.append(f"| {label} | {e.get('count', 0)} | {e['throughput_per_s']} | "
                     f"{e.get('p50_ms', '-')} | {e.get('p95_ms', '-')} | {e.get('p99_ms', '-')} | "
                     f"{e.get('max_ms', '-')} | {e['errors']} | {statuses} |")
    return lines


def _pings(load: dict[str, Any]) -> str:
    offered = load["offered"]
    if "telemetry" not in load:
        return f"{offered['pings_per_s']} GPS pings/s (HTTP) from {offered['units']} ambulances"
    return (f"{offered['pings_per_s']} GPS fixes/s from {offered['units']} ambulances, each on "
            f"its own `/ws/telemetry` socket ({load['setup'].get('telemetry_sockets_ready')} "
            "ready)")


def _subscriptions(load: dict[str, Any]) -> str:
    if "consoles" not in load:
        return "every one subscribed to all case events"
    c = load["consoles"]
    return (f"every one subscribed to all case events and all unit positions with batched "
            f"frames (`batch=1`), {c.get('measuring')} of them timing what they receive; "
            f"they read {c.get('frames_per_s')} frames/s ({c.get('mb_per_s')} MiB/s)")


def _telemetry(load: dict[str, Any]) -> list[str]:
    """Fixes over the telemetry sockets: acks are their latency, nacks their refusals."""
    t = load.get("telemetry")
    if t is None:
        return []
    ack = t["ack_latency"]
    nacks = ", ".join(f"{k}: {v}" for k, v in sorted(t.get("nacks", {}).items())) or "none"
    return [
        f"**GPS fixes over `/ws/telemetry`**: {t['sent']} sent, {t['accepted']} stored "
        f"({t['throughput_per_s']}/s), nacks {nacks}, {t['unacked']} unacknowledged at the "
        f"end. Fix sent → cumulative ack received: P50 {ack.get('p50_ms')} ms, P95 "
        f"{ack.get('p95_ms')} ms, P99 {ack.get('p99_ms')} ms, max {ack.get('max_ms')} ms.",
        "",
    ]


def _positions(load: dict[str, Any]) -> list[str]:
    pos = load.get("position_propagation")
    if not pos:
        return []
    return [
        f"**Positions on the consoles** (fix recorded → coalesced position event received, "
        f"{pos.get('count', 0)} sampled): P50 {pos.get('p50_ms')} ms, P95 {pos.get('p95_ms')} "
        f"ms, P99 {pos.get('p99_ms')} ms, max {pos.get('max_ms')} ms. Positions are sent at "
        "most once per unit per coalescing period (`LIFELINE_REALTIME_POSITION_COALESCE_MS`, "
        f"{load['offered'].get('position_coalesce_ms') or 'default 1000'} ms), which adds up "
        "to that period to this delay.",
        "",
    ]


def _resources(load: dict[str, Any]) -> str:
    rows = load.get("resources", [])
    if not rows:
        return "not sampled"
    cpu = [r["api_cpu_pct"] for r in rows]
    rss = [r["api_rss_mb"] for r in rows]
    gen = [r["generator_cpu_pct"] for r in rows]
    load1 = [r["load1"] for r in rows]
    text = (f"API processes (uvicorn supervisor + 2 workers): CPU mean "
            f"{sum(cpu) / len(cpu):.0f} % / max {max(cpu):.0f} % of one core; RSS max "
            f"{max(rss):.0f} MB. Load generator: CPU mean {sum(gen) / len(gen):.0f} % of one "
            "core. 1-min load average during the run: "
            f"{min(load1):.1f}–{max(load1):.1f} on {load['machine']['cpus']} cores.")
    window = load.get("cpu_window")
    if window:
        names = {"api": "API", "postgres": "PostgreSQL", "redis": "Redis",
                 "gen_http": "generator: HTTP", "gen_telemetry": "generator: telemetry",
                 "gen_consoles": "generator: consoles", "gen_main": "generator: orchestrator"}
        parts = [f"{names.get(k, k)} {v['mean_pct']:.0f} %" for k, v in window.items()]
        text += (f" CPU over the {load['offered']['seconds']:g} offered seconds, in % of one "
                 f"core: {', '.join(parts)}.")
    return text


def _faults_section(faults: dict[str, Any] | None) -> list[str]:
    if faults is None:
        return ["Not run (`.venv/bin/python -m bench.faults`)."]
    rec = faults["recovery_s"]
    return [
        "Private PostgreSQL 15 cluster (initdb), private redis-server, `lifeline serve "
        "--workers 2`; the API reaches PostgreSQL through an asyncio TCP proxy. Clients raise SOS "
        "continuously and retry each with the same `Idempotency-Key` until acknowledged.",
        "",
        "| fault (at s) | " + " | ".join(f"{f['fault']} ({f['at']:.1f})"
                                        for f in faults["faults"]) + " |",
        "|---|" + "---|" * len(faults["faults"]),
        "",
        "| check | result |",
        "|---|---|",
        f"| SOS attempted (ops) / HTTP attempts | {faults['attempted']} / {faults['attempts']} |",
        f"| acknowledged / stored | {faults['acknowledged']} / {faults['stored']} |",
        f"| lost (acknowledged − stored) | {len(faults['lost'])} |",
        f"| unexpected (stored − attempted) | {len(faults['unexpected'])} |",
        f"| duplicated (stored twice) | {len(faults['duplicated'])} |",
        f"| acknowledged with another case's id | {len(faults['ack_for_other_case'])} |",
        f"| cases whose event never reached the console | {len(faults['undelivered'])} |",
        f"| cases delivered twice to the console | {len(faults['delivered_twice'])} |",
        f"| console reconnects (its worker was killed) | {faults['console_reconnects']} |",
        f"| failed attempts (retried) | {faults['failed_attempts']} |",
        f"| first SOS accepted after PostgreSQL is back | {rec['postgres']} s (target < 5 s) |",
        f"| … after Redis is back / worker killed / DB connections reset | {rec['redis']} s / "
        f"{rec['worker']} s / {rec.get('db_connections_reset')} s |",
    ]


def _failover_section(result: dict[str, Any] | None) -> list[str]:
    """bench/failover.py: the high-availability topology losing a machine of each kind."""
    if result is None:
        return ["Not run (`.venv/bin/python -m bench.failover`)."]
    again, gap, promoted = (result["accepted_again_s"], result["longest_gap_s"],
                            result["promoted_after_s"])
    targets, rejoin = result["targets_s"], result["rejoin"]
    when = {f["fault"]: round(f["at"], 1) for f in result["faults"]}
    screens = result["consoles"]
    lines = [
        "Patroni 3.0.2 + etcd 3.4 managing PostgreSQL 15 + PostGIS (primary and synchronous "
        "standby, `synchronous_mode: true`, ttl 6 s, loop_wait 1 s), Redis 7 with one replica "
        "and three sentinels, two `lifeline serve` nodes on 127.0.0.2 and 127.0.0.3 behind "
        "HAProxy checking `/health/ready` (bench/ha.py; the same topology as the `ha` profile "
        f"of docker-compose.yml). {result['clients']} clients raise SOS through HAProxy and "
        f"retry each with the same `Idempotency-Key`; {result['console_count']} consoles are "
        "subscribed through HAProxy and resume by `last_seq` after any disconnect.",
        "",
        "| fault | at (s) | promoted after | SOS accepted again after | longest gap without an "
        "acknowledgement | target |",
        "|---|---|---|---|---|---|",
        f"| PostgreSQL primary's machine `kill -9` (Patroni + PostgreSQL) | "
        f"{when.get('pg_primary_killed')} | {promoted['postgres']} s | {again['postgres']} s | "
        f"{gap['postgres']} s | ≤ {targets['postgres']} s |",
        f"| Redis master stopped | {when.get('redis_stopped')} | {promoted['redis']} s | "
        f"{again['redis']} s | {gap['redis']} s | ≤ {targets['redis']} s |",
        f"| app node `kill -9` | {when.get('app_node_killed')} | — | {again['app_node']} s | "
        f"{gap['app_node']} s | ≤ {targets['app_node']} s |",
        "",
        "| check | result |",
        "|---|---|",
        f"| SOS attempted (ops) / HTTP attempts | {result['attempted']} / {result['attempts']} |",
        f"| acknowledged / stored | {result['acknowledged']} / {result['stored']} |",
        f"| lost / unexpected / duplicated / acknowledged with another case's id | "
        f"{len(result['lost'])} / {len(result['unexpected'])} / {len(result['duplicated'])} / "
        f"{len(result['ack_for_other_case'])} |",
        f"| failed attempts (retried by the client) | {result['failed_attempts']} |",
        f"| server-side retries of an SOS transaction after a lost connection (each then "
        f"acknowledged, or answered 503 while no primary was writable) | "
        f"{result.get('server_side_retries')} |",
        "| per console: events / undelivered / delivered twice / reconnects | "
        + "; ".join(f"{c['events']} / {len(c['undelivered'])} / {len(c['delivered_twice'])} / "
                    f"{c['reconnects']}" for c in screens) + " |",
        "| console live again after the Redis master stopped (first case raised after it) | "
        + ", ".join(f"{c['live_again_after_redis_stop_s']} s" for c in screens) + " |",
        f"| stream holes filled from the outbox by a hub | {result.get('hub_holes_filled')} |",
        "| hospital directory reads on the standby (DATABASE_READ_URL) answered / failed | "
        + (f"{result['directory_reads']['ok']} / {result['directory_reads']['failed']} |"
           if "directory_reads" in result else "not measured in this run |"),
        f"| relays holding the advisory lock on the new primary | "
        f"{result['relay_lock_holders_on_primary']} |",
        f"| old primary restarted: role, seconds to rejoin, cases on it / on the primary | "
        f"{rejoin['role']}, {rejoin['seconds']} s, {rejoin['cases_on_rejoined_standby']} / "
        f"{rejoin['cases_on_primary']} |",
    ]
    return lines


def _runs_table() -> list[str]:
    """One line per load run kept in docs/bench (the scenario at several offered rates)."""
    lines = ["| run | offered SOS/s · pings/s · sockets | achieved SOS/s · pings/s "
             "| SOS P50/P95/P99 ms | ping (or fix ack) P99 ms | push P50/P99 ms | shed | errors "
             "| load avg before → after |",
             "|---|---|---|---|---|---|---|---|---|"]
    for path in sorted(BENCH.glob("load*.json")):
        run = json.loads(path.read_text())
        _fix_rates(run)
        o, e, p = run["offered"], run["endpoints"], run["propagation"]
        sos = e.get("sos", {})
        ping = e.get("gps_ping", {})
        if "telemetry" in run:  # fixes over /ws/telemetry: acks, not HTTP responses
            ping = {**run["telemetry"]["ack_latency"],
                    "throughput_per_s": run["telemetry"]["throughput_per_s"]}
        before = run["machine"]["uptime_before"].split("load average:")[-1].split(",")[0].strip()
        after = run["machine"]["uptime_after"].split("load average:")[-1].split(",")[0].strip()
        lines.append(
            f"| {path.stem} | {o['sos_per_s']} · {o['pings_per_s']} · "
            f"{run['setup'].get('consoles_connected')} | {sos.get('throughput_per_s')} · "
            f"{ping.get('throughput_per_s')} | {sos.get('p50_ms')}/{sos.get('p95_ms')}/"
            f"{sos.get('p99_ms')} | {ping.get('p99_ms')} | {p.get('p50_ms')}/{p.get('p99_ms')} | "
            f"{run['shed']} | {sum(x['errors'] for x in e.values())} | {before} → {after} |"
        )
    return lines


def _sos_rate(load: dict[str, Any]) -> float:
    return float(load["endpoints"].get("sos", {}).get("throughput_per_s") or 0.0)


def _reading(load: dict[str, Any]) -> list[str]:
    """What the figures say, with the SOS-only capacity run when there is one."""
    lines = [
        "The targets are **not met here**. The API workers, PostgreSQL, Redis, the load "
        "generator and the sockets' consumers all share two cores, and what is offered beyond "
        "what they serve queues (latency ≈ requests in flight ÷ throughput). The achieved "
        "throughput, not the offered rate, is the figure to keep: "
        f"{_http_rate(load):.0f} HTTP requests/s and "
        f"{load.get('telemetry', {}).get('throughput_per_s', 0):.0f} fixes/s in this run."
    ]
    solo_path = BENCH / "load-sos-only.json"
    if solo_path.exists():
        solo = json.loads(solo_path.read_text())
        sos = solo["endpoints"]["sos"]
        api = solo.get("cpu_window", {}).get("api", {})
        per_sos = (api.get("mean_pct", 0) / 100) / max(sos["throughput_per_s"], 1e-9) * 1000
        lines.append(
            f"SOS intake alone (`load-sos-only`: no sockets, no fixes) reaches "
            f"{sos['throughput_per_s']} SOS/s on the two workers at {api.get('mean_pct')} % of "
            f"a core for the API, about {per_sos:.1f} ms of worker CPU per SOS (P50/P99 "
            f"{sos['p50_ms']}/{sos['p99_ms']} ms at {solo['offered']['sos_per_s']} offered). "
            f"The mix served {_sos_rate(load):.0f} of the {load['offered']['sos_per_s']:.0f} "
            "SOS/s offered; its SOS and operator work grow with the rate, so the target needs "
            f"about {load['offered']['sos_per_s'] / max(_sos_rate(load), 1e-9):.1f}× the "
            "request-handling CPU of this run (the per-request figures below), with headroom "
            "for a P99 under 100 ms on top: see [scaling.md](scaling.md) for the per-node "
            "arithmetic."
        )
    lines.append(
        "Every delivery reached every socket and no request failed on the server side. "
        "Re-run `make bench` on a dedicated machine before drawing capacity conclusions."
    )
    return [" ".join(lines)]


def _request_cost() -> list[str]:
    """Worker CPU per request (bench/request_cost.py), when a run is kept."""
    path = BENCH / "request_cost.json"
    if not path.exists():
        return []
    run = json.loads(path.read_text())
    figures = run["figures"]
    floor = _floor_ms(run)
    lines = [
        "### Worker CPU per request",
        "",
        f"`{run['command']}` ({run['finished_at']}): the app in one process on a private "
        f"PostgreSQL and Redis, region {run['region']}, {run['units']} free units, "
        f"{run['requests']} calls per endpoint in a row; this process's CPU per call, its "
        "relay, audit writer and hub included (PostgreSQL's own CPU is not). Multiply by the "
        "load's request rates to see where the cores go.",
        "",
        "| endpoint | CPU ms | wall ms | × floor |",
        "|---|---|---|---|",
    ]
    lines += [f"| {name} | {row['cpu_ms']} | {row['wall_ms']} | {row['cpu_ms'] / floor:.1f} |"
              for name, row in figures.items()]
    return [*lines, ""]


def _login_flood() -> list[str]:
    """SOS latency alone and under a sign-in flood (bench/login_flood.py), when runs are kept."""
    path = BENCH / "login-flood.json"
    if not path.exists():
        return []
    runs = json.loads(path.read_text())["runs"]
    lines = [
        "## SOS under a sign-in flood",
        "",
        "`python -m bench.login_flood --seconds 20 --record docs/bench/login-flood.json --label "
        "LABEL`: one `lifeline serve` worker; reporters send SOS one after another (50 ms apart, "
        "each on a connection of its own), "
        "first alone, then while 8 clients (each its own account and loopback address, sign-in "
        "limits lifted so every password is really checked) post sign-ins as fast as they are "
        "answered; both phases in one run. Target: the flood moves SOS P99 by less than 2×. "
        "The machine is shared: the load average (1 min, 2 cores) is part of every figure. "
        "Password checks run at nice 19 in a bounded pool, and a refused sign-in is answered "
        "after 1 s: a flood that ignores Retry-After no longer takes the worker's CPU.",
        "",
        "| run | SOS alone P50 / P99 | SOS under flood P50 / P99 | ratio P50 / P99 | sign-ins "
        "(answers) | load |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        alone, flood = run["sos_alone"], run["sos_under_flood"]
        answers = ", ".join(f"{n}× {code}" for code, n in sorted(run["logins"]["statuses"].items()))
        lines.append(
            f"| {run['label']} ({run['date']}) | {alone['p50_ms']} / {alone['p99_ms']} ms | "
            f"{flood['p50_ms']} / {flood['p99_ms']} ms | ×{run['p50_ratio']} / "
            f"×{run['p99_ratio']} | {run['logins']['attempts']} ({answers}) | "
            f"{run['load_average'][0]} |"
        )
    return [*lines, ""]


#: Process groups a request's work lands on (the fleet's and consoles' generators excluded).
REQUEST_GROUPS = ("api", "postgres", "redis", "gen_http", "gen_main")


def _cpu_pct(run: dict[str, Any], groups: tuple[str, ...] | None = None) -> float:
    """Mean CPU of ``groups`` (all when None) over the offered seconds, in % of one core."""
    window = run.get("cpu_window") or {}
    return sum(v["mean_pct"] for k, v in window.items() if groups is None or k in groups)


def _budget(load: dict[str, Any]) -> list[str]:
    """Where the cores would have to come from for the target: measured parts, added up."""
    paths = [BENCH / f"{name}.json" for name in ("load-fleet-only", "load-sos-only",
                                                  "request_cost")]
    if not all(path.exists() for path in paths):
        return []
    fleet, solo, cost = (json.loads(path.read_text()) for path in paths)
    cpus = load["machine"]["cpus"]
    rate, share = load["offered"]["sos_per_s"], load["offered"]["operator_share"]
    at_rest = _cpu_pct(fleet)
    per_sos_ms = _cpu_pct(solo, REQUEST_GROUPS) * 10 / _sos_rate(solo)
    actions = {k.split("/")[-1]: v["cpu_ms"] for k, v in cost["figures"].items()
               if k.startswith("POST /cases/")}
    action_ms = sum(actions.values())
    need_sos = rate * per_sos_ms / 10
    need_actions = rate * share * action_ms / 10
    left = cpus * 100 - at_rest
    fits_ms = left * 10 / rate
    names = " / ".join(actions)
    return [
        "### Where the cores would have to come from",
        "",
        "Each part of the target mix measured on its own (same machine, same region) and added "
        "up, in % of one core; the machine has "
        f"{cpus * 100} %.",
        "",
        "| part | % of one core | measured by |",
        "|---|---|---|",
        f"| the fleet and the consoles at rest: {fleet['offered']['pings_per_s']:g} fixes/s, "
        f"{fleet['setup'].get('consoles_connected')} console sockets, "
        f"{fleet['offered']['sos_per_s']:g} SOS/s (API, PostgreSQL, Redis and every generator) "
        f"| {at_rest:.0f} | `load-fleet-only` |",
        f"| {rate:g} SOS/s at {per_sos_ms:.1f} ms each (API, PostgreSQL, Redis, HTTP generator) "
        f"| {need_sos:.0f} | `load-sos-only` ({_sos_rate(solo):g} SOS/s served) |",
        f"| {rate * share:g}/s each of {names} at {action_ms:.1f} ms of worker CPU for the four "
        f"(PostgreSQL's share not counted) | {need_actions:.0f} | `request_cost` |",
        "| pushing those cases' events to every console (up to 20 frames/s per socket) "
        "| not counted | |",
        f"| **total** | **{at_rest + need_sos + need_actions:.0f}** of {cpus * 100} | |",
        "",
        f"So the requests alone would need {(need_sos + need_actions) / left:.1f}× the "
        f"{left:.0f} % the fleet and consoles leave, at full utilisation (a P99 under 100 ms "
        "needs headroom too), before one event is pushed to a console: to fit, an SOS with its "
        f"share of operator actions would have to cost at most {fits_ms:.1f} ms of CPU across "
        f"all processes, against {per_sos_ms + share * action_ms:.1f} ms measured and "
        f"{_floor_ms(cost):.2f} ms for an empty request through the framework. On this "
        "machine the target is out of reach for this design; [scaling.md](scaling.md) gives "
        "the per-node arithmetic for more cores.",
        "",
    ]


def _run_commands() -> list[str]:
    """How each kept load run was made (the mixed scenario first)."""
    paths = sorted(BENCH.glob("load*.json"), key=lambda path: (path.stem != "load", path.stem))
    return [json.loads(path.read_text())["command"].replace("python", ".venv/bin/python", 1)
            for path in paths]


def _floor_ms(cost: dict[str, Any]) -> float:
    return next(v["cpu_ms"] for k, v in cost["figures"].items() if "floor" in k)


def render() -> str:
    load = json.loads((BENCH / "load.json").read_text())
    _fix_rates(load)
    faults_path = BENCH / "faults.json"
    faults = json.loads(faults_path.read_text()) if faults_path.exists() else None
    _plot_latency(load, BENCH / "latency_over_time.png")
    _plot_propagation(load, BENCH / "propagation.png")
    offered = load["offered"]
    prop = load["propagation"]
    machine = load["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (bench/load.py, bench/faults.py, bench/report.py). Everything "
        "runs on one machine over loopback: the API, PostgreSQL, Redis **and the load generator "
        "share "
        f"the same {machine['cpus']} cores** (and, for some runs, other work: see the load "
        "averages). Read them as a floor.",
        "",
        "## Machine",
        "",
        f"- {machine['platform']}, Python {machine['python']}, {machine['cpus']} CPUs",
        f"- before: `{machine['uptime_before']}`",
        f"- after: `{machine['uptime_after']}`",
        f"- finished {load['finished_at']}",
        "",
        "## Load: mixed scenario",
        "",
        f"Region **{load['region']}**; `lifeline serve --workers 2`. Offered for "
        f"{offered['seconds']} s: {offered['sos_per_s']} SOS/s (each with destination "
        f"recommendations; {int(offered['operator_share'] * 100)} % then triaged, dispatched, "
        f"arrived and closed by an operator), {_pings(load)}, "
        f"{load['setup'].get('consoles_connected')} of {offered['consoles']} console "
        f"WebSockets connected, {_subscriptions(load)}. Requests the generator could not start "
        f"because {offered.get('max_in_flight', 100)} were already in flight "
        f"(per stream) are shed and counted: {load['shed']}. What was started drained for "
        f"{load['active_s']} s in all; throughput is per second of that activity.",
        "",
        *_endpoint_table(load),
        "",
        *_telemetry(load),
        f"**Propagation to the consoles** (case raised → event received, over "
        f"{prop.get('count', 0)} deliveries): P50 {prop.get('p50_ms')} ms, P95 "
        f"{prop.get('p95_ms')} ms, P99 {prop.get('p99_ms')} ms, max {prop.get('max_ms')} ms.",
        "",
        *_positions(load),
        f"**Resources**: {_resources(load)}",
        "",
        f"Dispatches refused for want of a free unit (a business outcome, not an error): "
        f"{load['outcomes'].get('dispatch_no_unit', 0)}.",
        "",
        "![latency over time](bench/latency_over_time.png)",
        "",
        "![propagation delay](bench/propagation.png)",
        "",
        "### Every run",
        "",
        *_runs_table(),
        "",
        "### Against the targets",
        "",
        "| target | measured |",
        "|---|---|",
        f"| SOS intake P99 < 100 ms at 200 SOS/s | P99 "
        f"{load['endpoints'].get('sos', {}).get('p99_ms')} ms at "
        f"{load['endpoints'].get('sos', {}).get('throughput_per_s')} SOS/s achieved |",
        f"| push P99 < 100 ms | P99 {prop.get('p99_ms')} ms |",
        f"| 0 errors | {sum(e['errors'] for e in load['endpoints'].values())} |",
        "",
        "### Reading these figures",
        "",
        *_reading(load),
        "",
        *_budget(load),
        *_request_cost(),
        *_login_flood(),
        "## Faults",
        "",
        *_faults_section(faults),
        "",
        "## Failover (high availability)",
        "",
        *_failover_section(json.loads((BENCH / "failover.json").read_text())
                           if (BENCH / "failover.json").exists() else None),
        "",
        "## Reproduce",
        "",
        "```sh",
        "make bench                                  # faults + load + this report",
        *_run_commands(),
        ".venv/bin/python -m bench.faults --seconds 30 --clients 8",
        ".venv/bin/python -m bench.failover --seconds 40 --clients 6 --consoles 3",
        ".venv/bin/python -m bench.request_cost --requests 300 --units 400",
        ".venv/bin/python -m bench.login_flood --seconds 20 --record docs/bench/login-flood.json"
        " --label now",
        ".venv/bin/python -m bench.report",
        "```",
        "",
    ]
    return "\n".join(lines)


def _kept_sections(current: str) -> str:
    """Sections other benchmarks write themselves (``<!-- section:NAME -->`` blocks), kept."""
    kept = re.findall(r"<!-- section:[\w-]+ -->.*?<!-- /section:[\w-]+ -->", current, re.S)
    return "".join("\n" + block + "\n" for block in kept)


def main() -> None:
    path = DOCS / "benchmarks.md"
    text = render() + _kept_sections(path.read_text() if path.exists() else "")
    (DOCS / "benchmarks.md").write_text(text)
    sys.stdout.write(f"wrote {DOCS / 'benchmarks.md'}\n")


if __name__ == "__main__":
    main()
