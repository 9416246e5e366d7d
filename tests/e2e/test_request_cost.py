"""The per-request CPU benchmark still runs end to end (a few calls, a few units)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_request_cost_measures_every_endpoint(tmp_path):
    out = tmp_path / "cost.json"
    # Its own process: the benchmark points the environment at its private PostgreSQL and Redis.
    run = subprocess.run(
        [sys.executable, "-m", "bench.request_cost", "--requests", "3", "--warmup", "2",
         "--units", "3", "--workdir", str(tmp_path / "work"), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(out.read_text())["figures"]
    assert set(figures) == {
        "POST /emergency/cases (SOS)", "  same, address + duplicate lookups off",
        "GET /cases/{id} (operator view)", "POST /cases/{id}/triage", "POST /cases/{id}/dispatch",
        "POST /cases/{id}/arrive", "POST /cases/{id}/close",
        "GET /users/me (baseline: audited read)", "GET /health/live (baseline: floor)",
    }
    assert all(row["cpu_ms"] > 0 for row in figures.values())
