"""Hold the engine's live state and swap in a rebuilt table without ever showing half an update.

Closures and hospital changes replace the weights or the hospital set at once (queries then
search on demand); a background thread rebuilds the table and swaps it in with one assignment,
the way OSRM's data watchdog swaps a new dataset under running queries.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime
from typing import Any

from numpy.typing import NDArray

from routing.closures import Closure, ClosureSet, apply_closures
from routing.graph import FloatArray, RoadGraph
from routing.snap import DEFAULT_MAX_SNAP_DISTANCE_M, EdgeSnapper, Snap, road_segments
from routing.speed_factors import edge_times, next_change
from routing.table import (
    COMPACT_THRESHOLD_CELLS,
    DEFAULT_MAX_ETA_S,
    Table,
    build_table,
    hospitals_by_segment,
)
from routing.table_cells import SparseRows, tick_seconds
from routing.turn_table import build_turn_table
from routing.turns import TurnGraph
from routing.weights import Hospital, HospitalSet, Weights, make_weights, snap_hospitals

log = logging.getLogger("routing.engine")

#: Default bound of the widened search :meth:`TravelTimeEngine.nearest` runs when fewer than
#: ``k`` eligible hospitals lie within the horizon (rural incidents).
DEFAULT_FALLBACK_LIMIT_S = 4 * 3600.0


class SwappableTables:
    """The weights, hospitals and table of one region, replaced atomically as they change."""

    def __init__(
        self,
        graph: RoadGraph,
        hospitals: Sequence[Hospital],
        *,
        max_eta_s: float = DEFAULT_MAX_ETA_S,
        fallback_limit_s: float = DEFAULT_FALLBACK_LIMIT_S,
        max_snap_distance_m: float = DEFAULT_MAX_SNAP_DISTANCE_M,
        workers: int | None = None,
        auto_refresh: bool = True,
        snapper: EdgeSnapper | None = None,
        compact: bool | None = None,
        turns: TurnGraph | None = None,
        sparse_horizon_s: float | None = None,
    ) -> None:
        self.graph = graph
        #: The edge-based graph: when given, the table's rows are its states (turns, restrictions).
        self.turns = turns
        #: With ``turns``: keep per state only the hospitals within this horizon (SparseRows).
        self.sparse_horizon_s = sparse_horizon_s
        self.compact = compact
        self.max_eta_s = float(max_eta_s)
        self.fallback_limit_s = float(fallback_limit_s)
        self.workers = workers if workers is not None else min(2, os.cpu_count() or 1)
        self.auto_refresh = auto_refresh
        self.segments = snapper.segments if snapper is not None else road_segments(graph)
        self.snapper = snapper or EdgeSnapper(
            graph, segments=self.segments, max_distance_m=max_snap_distance_m
        )
        self.closures = ClosureSet()
        self._lock = threading.RLock()
        self._refresh_thread: threading.Thread | None = None
        self._version = 0
        self._next_expiry = math.inf  # the next closure expiry or speed-factor change
        self._speed_factors: FloatArray | None = None
        self._weights = self._make_weights(graph.edge_travel_time_s.copy(), 0)
        self._hospitals = self._make_hospitals(hospitals, 0)
        self._current: Table | None = None

    # ------------------------------------------------------------------ state changes

    @property
    def current_weights(self) -> Weights:
        """Edge weights under the closures in force (for searches other than the table's)."""
        return self._weights

    @property
    def hospital_keys(self) -> tuple[Hashable, ...]:
        """Keys of the hospitals, in the order of ETA arrays."""
        return self._hospitals.keys

    @property
    def hospital_snaps(self) -> tuple[Snap, ...]:
        """Where each hospital joins the road network."""
        return self._hospitals.snaps

    @property
    def pending(self) -> bool:
        """Whether queries are answered on demand because the table is stale or missing."""
        current = self._current
        return (
            current is None
            or current.weights is not self._weights
            or (current.hospitals is not self._hospitals)
        )

    @property
    def table(self) -> NDArray[Any] | SparseRows | None:
        """The current node x hospital table, or ``None`` before :meth:`precompute`."""
        current = self._current
        return None if current is None else current.table

    def _make_weights(self, edge_time: FloatArray, version: int) -> Weights:
        return make_weights(self.graph, self.segments, edge_time, version, turns=self.turns)

    def _make_hospitals(self, hospitals: Sequence[Hospital], version: int) -> HospitalSet:
        return snap_hospitals(self.snapper, hospitals, version)

    def _changed(self) -> None:
        if self.auto_refresh and self._current is not None:
            self.refresh_in_background()

    def set_hospitals(self, hospitals: Sequence[Hospital]) -> None:
        """
        Replace the hospital set; queries use the on-demand path until the table is rebuilt.

        Parameters
        ----------
        hospitals : sequence of (key, lat, lng)
        """
        with self._lock:
            self._version += 1
            self._hospitals = self._make_hospitals(hospitals, self._version)
        self._changed()

    def _reweigh(self, now: datetime) -> None:
        with self._lock:
            self.closures.prune(now)
            base = edge_times(self.graph, self._speed_factors, now)
            weights = apply_closures(base, self.closures.active(now), now=now)
            self._version += 1
            self._weights = self._make_weights(weights, self._version)
            expiry = self.closures.next_expiry(now)
            self._next_expiry = min(
                expiry.timestamp() if expiry else math.inf, next_change(self._speed_factors, now)
            )
        self._changed()

    def set_speed_factors(self, factors: FloatArray | None, *, now: datetime | None = None) -> None:
        """
        Drive each road class at its calibrated speed for the hour (``None``: the model's).

        Parameters
        ----------
        factors : numpy.ndarray, optional
            ``(len(ROAD_CLASSES), 168)`` speed multipliers per road class and hour of the week
            (UTC), as :func:`routing.speed_factors.load_factors` returns them.
        now : datetime, optional
        """
        with self._lock:
            self._speed_factors = factors
            self._reweigh(now or datetime.now(UTC))

    def add_closure(self, closure: Closure, *, now: datetime | None = None) -> None:
        """
        Close roads; ETAs honour it immediately (on demand) and from the table once rebuilt.

        Parameters
        ----------
        closure : Closure
        now : datetime, optional
            Current time (for tests); default the clock.
        """
        with self._lock:
            self.closures.add(closure)
            self._reweigh(now or datetime.now(UTC))

    def lift_closure(self, closure_id: str, *, now: datetime | None = None) -> bool:
        """
        Reopen roads before the closure expires.

        Parameters
        ----------
        closure_id : str
        now : datetime, optional

        Returns
        -------
        bool
            Whether the closure existed.
        """
        with self._lock:
            found = self.closures.lift(closure_id)
            if found:
                self._reweigh(now or datetime.now(UTC))
            return found

    def expire_closures(self, *, now: datetime | None = None) -> None:
        """Drop expired closures and take the hour's speed factors; queries call it when due."""
        now = now or datetime.now(UTC)
        with self._lock:  # concurrent queries noticing the same expiry rebuild only once
            if now.timestamp() >= self._next_expiry:
                self._reweigh(now)

    # ------------------------------------------------------------------ table

    def precompute(self) -> float:
        """
        Build the node x hospital table for the current weights and hospitals and swap it in.

        Returns
        -------
        float
            Seconds spent.
        """
        while True:
            weights, hospitals = self._weights, self._hospitals
            started = time.perf_counter()
            compact = self.compact
            if compact is None:
                rows = self.graph.n_nodes if self.turns is None else self.turns.n_states
                compact = rows * len(hospitals.keys) > COMPACT_THRESHOLD_CELLS
            table: NDArray[Any] | SparseRows
            if self.turns is None:
                table, on_segment, distances = build_table(
                    self.graph,
                    self.segments,
                    weights,
                    hospitals,
                    max_eta_s=self.max_eta_s,
                    workers=self.workers,
                    compact=compact,
                )
            else:
                table = build_turn_table(
                    self.turns,
                    weights,
                    self.segments,
                    hospitals,
                    max_eta_s=self.max_eta_s,
                    workers=self.workers,
                    compact=compact,
                    sparse_horizon_s=self.sparse_horizon_s,
                )
                on_segment, distances = hospitals_by_segment(hospitals), None
            sparse = isinstance(table, SparseRows)
            seconds = tick_seconds(self.max_eta_s) if compact and not sparse else None
            horizon = table.horizon_s if isinstance(table, SparseRows) else self.max_eta_s
            elapsed = time.perf_counter() - started
            with self._lock:
                if weights is self._weights and hospitals is self._hospitals:
                    self._current = Table(
                        weights,
                        hospitals,
                        table,
                        on_segment,
                        elapsed,
                        seconds,
                        distances,
                        min(horizon, self.max_eta_s),
                    )
                    log.info("travel-time table %s built in %.2f s", table.shape, elapsed)
                    return elapsed
            # the state changed while we were building: build again for the newer state

    def refresh(self) -> float:
        """Rebuild the table now, in the calling thread (alias of :meth:`precompute`)."""
        return self.precompute()

    def refresh_in_background(self) -> threading.Thread:
        """
        Rebuild the table in a daemon thread unless one is already running.

        Returns
        -------
        threading.Thread
        """
        with self._lock:
            thread = self._refresh_thread
            if thread is not None and thread.is_alive():
                return thread  # it loops until the table matches the latest state
            thread = threading.Thread(target=self.precompute, name="eta-table-refresh", daemon=True)
            self._refresh_thread = thread
            thread.start()
            return thread

    def wait_until_fresh(self, timeout: float | None = None) -> bool:
        """
        Block until the table matches the current closures and hospitals.

        Parameters
        ----------
        timeout : float, optional
            Seconds.

        Returns
        -------
        bool
            Whether the table is fresh.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.pending:
            thread = self._refresh_thread
            if thread is None or not thread.is_alive():
                thread = self.refresh_in_background()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            thread.join(remaining)
        return True
