"""Per-process road engines of every region: where an incident is, and how far each hospital is."""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from prometheus_client import Histogram
from shapely.prepared import PreparedGeometry, prep
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dispatch.recommend import Candidate
from dispatch.settings import DispatchSettings
from facilities.models import Hospital
from routing import store as road_store
from routing.closures import Closure
from routing.engine import NearestHospital, TravelTimeEngine
from routing.graph import RoadGraph
from routing.models import Region
from routing.snap import Snap
from routing.speed_factors import factors_path, load_factors
from routing.table import COMPACT_THRESHOLD_CELLS
from routing.turns import TurnGraph, build_turn_graph

log = logging.getLogger(__name__)

ROUTING_SECONDS = Histogram(
    "lifeline_routing_query_seconds",
    "Time of in-process road queries (ETAs to all hospitals, routes to a few).",
    ["query"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)


@dataclass
class RegionNetwork:
    """One region's graph, engine and service area."""

    name: str
    area: shapely.Geometry
    prepared_area: PreparedGeometry
    engine: TravelTimeEngine
    hospital_positions: dict[uuid.UUID, tuple[float, float]]
    closure_ids: set[str] = field(default_factory=set)

    def covers(self, lat: float, lng: float) -> bool:
        """Whether the incident lies inside this region's service area."""
        return self.prepared_area.covers(shapely.Point(lng, lat))


@dataclass(frozen=True)
class IncidentTimes:
    """Road travel times from one incident to every hospital of its region."""

    region: str
    snap: Snap
    eta_by_hospital: dict[uuid.UUID, float]


def _hospital_rows(session: Session, region: str) -> dict[uuid.UUID, tuple[float, float]]:
    """Where each hospital of the region is reached: its entrance when known, else its location."""
    rows = session.execute(
        select(Hospital.id, Hospital.location, Hospital.entrance).where(Hospital.region == region)
    ).all()
    positions = {}
    for hospital_id, location, entrance in rows:
        point = to_shape(entrance if entrance is not None else location)
        positions[hospital_id] = (point.y, point.x)
    return positions


def _turn_graph(
    graph: RoadGraph, n_hospitals: int, *, settings: DispatchSettings
) -> TurnGraph | None:
    """The region's turn-expanded graph, unless switched off or its table would not fit."""
    return _turn_model(graph, n_hospitals, settings=settings)[0]


def _turn_model(
    graph: RoadGraph, n_hospitals: int, *, settings: DispatchSettings
) -> tuple[TurnGraph | None, float | None]:
    """The turn-expanded graph and, for a region whose dense table would not fit, the sparse
    table's horizon (s); (None, None): the node graph."""
    if not settings.turn_model:
        return None, None
    turns = build_turn_graph(graph)
    cell = 2 if turns.n_states * n_hospitals > COMPACT_THRESHOLD_CELLS else 4
    gigabytes = turns.n_states * max(n_hospitals, 1) * cell / 1e9
    if gigabytes <= settings.turn_table_max_gb:
        return turns, None
    if settings.turn_table_horizon_minutes > 0:
        log.warning(
            "region %s: a turn-model table of %.1f GB exceeds"
            " LIFELINE_DISPATCH_TURN_TABLE_MAX_GB (%.1f);"
            " keeping only the hospitals within %.0f min of each road edge",
            graph.name,
            gigabytes,
            settings.turn_table_max_gb,
            settings.turn_table_horizon_minutes,
        )
        return turns, settings.turn_table_horizon_minutes * 60.0
    log.warning(
        "region %s: a turn-model table of %.1f GB exceeds"
        " LIFELINE_DISPATCH_TURN_TABLE_MAX_GB (%.1f);"
        " ranking on the node graph",
        graph.name,
        gigabytes,
        settings.turn_table_max_gb,
    )
    return None, None


class Destinations:
    """The engines of all imported regions, built once at start-up and kept in step with the DB."""

    def __init__(
        self,
        regions: dict[str, RegionNetwork] | None = None,
        *,
        settings: DispatchSettings,
        data_dir: str,
        only: frozenset[str] | None = None,
    ) -> None:
        self.regions: dict[str, RegionNetwork] = regions or {}
        #: Turn-model budget; ``data_dir`` holds each region's calibrated speed factors.
        self.settings = settings
        self.data_dir = data_dir
        #: The regions this process serves (``LIFELINE_DISPATCH_REGIONS``); None: every region.
        self.only = only
        self._lock = threading.Lock()

    def _served(self, names: Iterable[str]) -> list[str]:
        return sorted(n for n in names if self.only is None or n in self.only)

    @classmethod
    def load(
        cls,
        engine: Engine,
        *,
        settings: DispatchSettings,
        data_dir: str,
        workers: int | None = None,
        only: frozenset[str] | None = None,
    ) -> Destinations:
        """Build the engine of every served region (graph from its cache, table precomputed)."""
        destinations = cls(settings=settings, data_dir=data_dir, only=only)
        with Session(engine) as session:
            names = destinations._served(session.scalars(select(Region.name)))
        for name in names:
            destinations.load_region(engine, name, workers=workers)
        return destinations

    def load_region(self, engine: Engine, name: str, *, workers: int | None = None) -> None:
        """(Re)build one region's engine."""
        with Session(engine) as session:
            region = session.get(Region, name)
            if region is None:
                return
            graph = road_store.load_region(session, name)
            positions = _hospital_rows(session, name)
            closures = road_store.active_closures(session, region=name, graph=graph)
            area = to_shape(region.area)
        turns, sparse_horizon_s = _turn_model(graph, len(positions), settings=self.settings)
        travel = TravelTimeEngine(
            graph,
            [(hid, lat, lng) for hid, (lat, lng) in positions.items()],
            workers=workers,
            turns=turns,
            sparse_horizon_s=sparse_horizon_s,
        )
        for closure in closures:
            travel.add_closure(closure)
        # the fleet's calibrated speeds, when `lifeline eta calibrate` found they help
        travel.set_speed_factors(load_factors(factors_path(self.data_dir, name)))
        travel.precompute()
        network = RegionNetwork(
            name=name,
            area=area,
            prepared_area=prep(area),
            engine=travel,
            hospital_positions=positions,
            closure_ids={c.closure_id for c in closures},
        )
        with self._lock:
            self.regions[name] = network
        log.info("region %s ready: %d nodes, %d hospitals", name, graph.n_nodes, len(positions))

    def locate(self, lat: float, lng: float) -> RegionNetwork | None:
        """The region whose area contains the point (the smallest, if areas overlap)."""
        if not (math.isfinite(lat) and math.isfinite(lng)):
            return None
        containing = [r for r in self.regions.values() if r.covers(lat, lng)]
        return min(containing, key=lambda r: r.area.area) if containing else None

    def times(self, network: RegionNetwork, lat: float, lng: float) -> IncidentTimes:
        """ETA (s) from the incident to every hospital of the region (``inf``: unreachable)."""
        with ROUTING_SECONDS.labels("etas").time():
            snap, eta = network.engine.eta_to_hospitals(lat, lng)
        keys = network.engine.hospital_keys
        return IncidentTimes(
            region=network.name,
            snap=snap,
            eta_by_hospital={key: float(eta[i]) for i, key in enumerate(keys)},
        )

    def routes(
        self,
        network: RegionNetwork,
        lat: float,
        lng: float,
        hospital_ids: list[uuid.UUID],
        *,
        with_geometry: bool = False,
    ) -> dict[uuid.UUID, NearestHospital]:
        """The fastest route (ETA, road distance, optionally its line) to a few chosen hospitals."""
        if not hospital_ids:
            return {}
        keys = network.engine.hospital_keys
        wanted = set(hospital_ids)
        mask = np.array([key in wanted for key in keys], dtype=bool)
        with ROUTING_SECONDS.labels("routes").time():
            found = network.engine.nearest(
                lat, lng, k=len(wanted), eligible_mask=mask, with_geometry=with_geometry
            )
        return {keys[n.hospital_index]: n for n in found}

    def sync(self, engine: Engine) -> None:
        """Pick up what other workers changed: new regions, hospitals moved or added, closures."""
        with Session(engine) as session:
            names = set(self._served(session.scalars(select(Region.name))))
        for name in names - set(self.regions):
            self.load_region(engine, name)
        for name in list(self.regions):
            if name not in names:
                with self._lock:
                    self.regions.pop(name, None)
                continue
            network = self.regions[name]
            with Session(engine) as session:
                positions = _hospital_rows(session, name)
                closures = road_store.active_closures(
                    session, region=name, graph=network.engine.graph
                )
            if positions != network.hospital_positions:
                network.engine.set_hospitals(
                    [(hid, lat, lng) for hid, (lat, lng) in positions.items()]
                )
                network.hospital_positions = positions
            self._sync_closures(network, closures)

    def _sync_closures(self, network: RegionNetwork, closures: list[Closure]) -> None:
        current = {c.closure_id: c for c in closures}
        for closure_id in network.closure_ids - set(current):
            network.engine.lift_closure(closure_id)
        for closure_id in set(current) - network.closure_ids:
            network.engine.add_closure(current[closure_id])
        network.closure_ids = set(current)
        network.engine.expire_closures(now=datetime.now(UTC))


class HospitalRow(Protocol):
    """What ranking reads of a hospital: an ORM row or a plain result row of the same columns."""

    id: uuid.UUID
    name: str
    capabilities: list[str] | None
    ed_status: str
    beds_available: int | None
    capacity_updated_at: datetime | None


def candidates_from(
    hospitals: Sequence[HospitalRow],
    times: IncidentTimes,
    services: dict[uuid.UUID, dict[str, str]] | None = None,
) -> list[Candidate]:
    """Join hospital rows with their travel times (missing from the engine: unreachable) and
    the statuses of their services that are not simply available."""
    services = services or {}
    return [
        Candidate(
            hospital_id=h.id,
            name=h.name,
            capabilities=tuple(h.capabilities or ()),
            ed_status=h.ed_status,
            beds_available=h.beds_available,
            capacity_updated_at=h.capacity_updated_at,
            eta_s=times.eta_by_hospital.get(h.id, math.inf),
            services=services.get(h.id),
        )
        for h in hospitals
    ]
