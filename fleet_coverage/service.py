"""Coverage use cases at the database edge: demand, posts, the fleet's positions, move-ups."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from data.base import utcnow
from data.errors import Conflict, NotFound
from data.events import COVERAGE_MOVE_UP, CoverageMoveUp
from data.outbox import record_event
from dispatch import fleet
from dispatch.destinations import Destinations, RegionNetwork
from dispatch.models import EmergencyCase, Unit, UnitEvent
from dispatch.ports import LivePositions
from dispatch.unit_status import UnitStatus
from fleet_coverage.grid import DemandGrid, build_demand_grid
from fleet_coverage.models import CoverageDemand, CoverageMove, CoveragePost
from fleet_coverage.reach import Reach
from fleet_coverage.settings import CoverageSettings
from messaging.outbox import queue_sms
from routing import store as road_store
from routing.graph import haversine_m


class UnknownRegion(NotFound):
    """No road network of that name is served here."""

    code = "unknown_region"
    title = "Unknown region"


class PostNotFound(NotFound):
    """No post with that id."""

    code = "post_not_found"
    title = "Post not found"


class PostOutsideRegion(Conflict):
    """The post is in another region than the unit's station."""

    code = "post_outside_region"
    title = "Post outside the unit's region"


@dataclass(frozen=True)
class Post:
    """A place to wait, as the solver sees it."""

    id: uuid.UUID
    name: str
    kind: str
    lat: float
    lng: float


@dataclass(frozen=True)
class FleetUnit:
    """A free unit where we believe it stands (fresh GPS, else its move-up post, else station)."""

    id: uuid.UUID
    call_sign: str
    unit_type: str
    lat: float
    lng: float
    source: str
    #: The post of a move-up not yet ended by a status change: the unit is on its way there even
    #: when a fresh GPS fix places it elsewhere, so plans count it at that post (not propose it).
    heading_to: tuple[float, float] | None = None


@dataclass
class RegionState:
    """One region's demand grid and its search caches (per search limit and post set)."""

    network: RegionNetwork
    grid: DemandGrid
    reaches: dict[tuple[float, tuple[int, ...]], Reach] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _rings: list[list[list[float]]] | None = None

    def rings(self) -> list[list[list[float]]]:
        """Every cell's GeoJSON ring, built once (the uncovered ones are sent on every read)."""
        if self._rings is None:
            self._rings = self.grid.polygons(np.arange(self.grid.n_cells))
        return self._rings

    def reach(self, limit_s: float, post_nodes: tuple[int, ...]) -> Reach:
        """The search cache for this limit, with the post nodes as extra targets."""
        key = (float(limit_s), post_nodes)
        with self.lock:
            found = self.reaches.get(key)
            if found is None:
                if len(self.reaches) > 8:
                    self.reaches.clear()
                targets = np.concatenate([self.grid.node, np.asarray(post_nodes, dtype=np.int64)])
                found = Reach(self.network.engine, targets, limit_s)
                self.reaches[key] = found
            return found


class CoverageBook:
    """Per-process coverage state of every served region, built on first use."""

    def __init__(self, destinations: Destinations) -> None:
        self.destinations = destinations
        self._states: dict[str, tuple[Any, RegionState]] = {}
        #: Bumped on every fleet change this process sees (status changes, move-ups).
        self.generation = 0
        self._lock = threading.Lock()

    def network(self, region: str) -> RegionNetwork:
        """The region's road network, or :class:`UnknownRegion`."""
        network = self.destinations.regions.get(region)
        if network is None:
            raise UnknownRegion(f"no region {region!r} is served here")
        return network

    def state(self, region: str, demand: CoverageDemand | None, settings: CoverageSettings
              ) -> RegionState:
        """The region's state, rebuilt when its engine or stored demand changed."""
        network = self.network(region)
        stamp = (id(network), demand.computed_at if demand else None)
        with self._lock:
            cached = self._states.get(region)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        state = RegionState(network, grid_for(network, demand, settings))
        with self._lock:
            self._states[region] = (stamp, state)
        return state


def grid_for(
    network: RegionNetwork, demand: CoverageDemand | None, settings: CoverageSettings
) -> DemandGrid:
    """The region's road grid with the stored demand weights (road prior when none stored)."""
    graph = network.engine.graph
    cell = demand.cell_size_m if demand else settings.cell_size_m
    grid = build_demand_grid(
        graph.node_lat, graph.node_lon, edge_source=graph.edge_source,
        edge_length_m=graph.edge_length_m, cell_size_m=cell,
    )
    if demand is None:
        return grid
    stored = demand.cells
    lookup = {
        (int(x), int(y)): float(w)
        for x, y, w in zip(stored["ix"], stored["iy"], stored["weight"], strict=True)
    }
    weight = np.array([lookup.get((int(x), int(y)), 0.0) for x, y in zip(grid.ix, grid.iy,
                                                                         strict=True)])
    if weight.sum() <= 0:
        return grid
    return DemandGrid(
        grid.cell_size_m, grid.origin_lat, grid.origin_lng, grid.ix, grid.iy, grid.lat, grid.lng,
        grid.node, weight / weight.sum(), int(stored.get("case_count", 0)),
    )


# ---------------------------------------------------------------------- demand (CLI, sync)


def compute_demand(*, session: Session, region: str, settings: CoverageSettings) -> CoverageDemand:
    """Build and store a region's demand grid from its road graph and its case history."""
    graph = road_store.load_region(session, region)
    rows = session.execute(
        select(func.ST_Y(EmergencyCase.location), func.ST_X(EmergencyCase.location)).where(
            EmergencyCase.region == region
        )
    ).all()
    lat = np.array([r[0] for r in rows], dtype=np.float64)
    lng = np.array([r[1] for r in rows], dtype=np.float64)
    grid = build_demand_grid(
        graph.node_lat, graph.node_lon, edge_source=graph.edge_source,
        edge_length_m=graph.edge_length_m, case_lat=lat, case_lng=lng,
        cell_size_m=settings.cell_size_m, bandwidth_m=settings.bandwidth_m,
        prior_share=settings.prior_share,
    )
    row = session.get(CoverageDemand, region) or CoverageDemand(region=region)
    row.cell_size_m = settings.cell_size_m
    row.bandwidth_m = settings.bandwidth_m
    row.prior_share = settings.prior_share
    row.case_count = grid.case_count
    row.cells = grid.to_json()
    row.computed_at = utcnow()
    session.add(row)
    session.commit()
    return row


# ---------------------------------------------------------------------- reads


async def load_demand(*, db_session: AsyncSession, region: str) -> CoverageDemand | None:
    """The stored demand grid of the region, if computed."""
    return await db_session.get(CoverageDemand, region)


async def region_posts(*, db_session: AsyncSession, region: str) -> list[Post]:
    """Posts of the region by name."""
    rows = await db_session.scalars(
        select(CoveragePost).where(CoveragePost.region == region).order_by(CoveragePost.name)
    )
    posts = []
    for row in rows:
        point = to_shape(row.location)
        posts.append(Post(row.id, row.name, row.kind, point.y, point.x))
    return posts


def _in_region(network: RegionNetwork, unit: Unit | fleet.UnitBrief) -> bool:
    lat, lng = fleet.station_of(unit)
    return network.covers(lat, lng)


def _all_in_region(network: RegionNetwork, units: list[fleet.UnitBrief]) -> list[fleet.UnitBrief]:
    """The units stationed in the region, tested as one array (a case read does this)."""
    if not units:
        return []
    shapely.prepare(network.area)
    inside = shapely.intersects_xy(  # a point intersects an area exactly when the area covers it
        network.area, np.fromiter((u.station_lng for u in units), float, len(units)),
        np.fromiter((u.station_lat for u in units), float, len(units)),
    )
    return [u for u, keep in zip(units, inside.tolist(), strict=True) if keep]


async def ensure_station_posts(
    *,
    db_session: AsyncSession, network: RegionNetwork, settings: CoverageSettings
) -> None:
    """Every station of the region's units is a post (added once, idempotent under races)."""
    units = [u for u in await fleet.list_units(db_session=db_session) if _in_region(network, u)]
    posts = await region_posts(db_session=db_session, region=network.name)
    added = False
    for unit in units:
        lat, lng = fleet.station_of(unit)
        if any(haversine_m(lat, lng, p.lat, p.lng) <= settings.at_post_m for p in posts):
            continue
        name = f"Station {unit.call_sign}"
        await db_session.execute(
            insert(CoveragePost)
            .values(
                id=uuid.uuid4(), region=network.name, name=name, kind="station",
                location=from_shape(Point(lng, lat), srid=4326), created_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )
        posts.append(Post(uuid.uuid4(), name, "station", lat, lng))
        added = True
    if added:
        await db_session.commit()


async def add_post(
    *,
    db_session: AsyncSession, network: RegionNetwork, name: str, lat: float, lng: float
) -> Post:
    """An agency's standby point inside the region."""
    if not network.covers(lat, lng):
        raise PostOutsideRegion(f"({lat}, {lng}) is outside region {network.name}")
    row = CoveragePost(
        region=network.name, name=name.strip(), kind="standby",
        location=from_shape(Point(lng, lat), srid=4326),
    )
    db_session.add(row)
    try:
        await db_session.commit()
    except IntegrityError as exc:  # the unique (region, name) index
        await db_session.rollback()
        raise Conflict(f"a post named {name!r} exists", code="post_name_taken") from exc
    return Post(row.id, row.name, row.kind, lat, lng)


async def free_fleet(
    *,
    db_session: AsyncSession, live_fleet: LivePositions, network: RegionNetwork
) -> list[FleetUnit]:
    """Available units of the region where they stand now."""
    units = _all_in_region(network, await fleet.available_units(db_session=db_session))
    if not units:
        return []
    live = await fleet.live_positions(live_fleet, units)
    last_event = (
        select(UnitEvent.unit_id, func.max(UnitEvent.at).label("at"))
        .where(UnitEvent.unit_id.in_([u.id for u in units]))
        .group_by(UnitEvent.unit_id)
        .subquery()
    )
    rows = await db_session.execute(
        select(CoverageMove.unit_id, func.ST_Y(CoveragePost.location),
               func.ST_X(CoveragePost.location))
        .join(CoveragePost, CoveragePost.id == CoverageMove.post_id)
        .outerjoin(last_event, last_event.c.unit_id == CoverageMove.unit_id)
        .where(CoverageMove.unit_id.in_([u.id for u in units]))
        .where((last_event.c.at.is_(None)) | (CoverageMove.accepted_at > last_event.c.at))
        .order_by(CoverageMove.unit_id, CoverageMove.accepted_at)
    )
    moved = {unit_id: (lat, lng) for unit_id, lat, lng in rows}  # the latest move wins
    result = []
    for unit in units:
        position = live[unit.id]
        if not position.stale:
            lat, lng, source = position.lat, position.lng, "gps"
        elif unit.id in moved:
            (lat, lng), source = moved[unit.id], "move_up"
        else:
            lat, lng, source = position.lat, position.lng, "station"
        result.append(FleetUnit(unit.id, unit.call_sign, unit.unit_type, lat, lng, source,
                                heading_to=moved.get(unit.id)))
    return result


# ---------------------------------------------------------------------- the move-up itself


async def accept_move_up(
    *,
    db_session: AsyncSession,
    destinations: Destinations,
    unit_id: uuid.UUID,
    post_id: uuid.UUID,
    actor: str,
) -> CoverageMove:
    """Send a free unit to a post: move row, outbox event and crew SMS in one transaction.

    The unit row is locked, so of two simultaneous requests for the same unit the second sees the
    first's move and gets 409 ``move_up_pending`` instead of texting the crew twice.
    """
    post = await db_session.get(CoveragePost, post_id)
    if post is None:
        raise PostNotFound(f"no post {post_id}")
    unit = await fleet.get_unit(db_session=db_session, unit_id=unit_id, lock=True)
    if unit.status != UnitStatus.AVAILABLE.value:
        raise fleet.UnitUnavailable(
            f"{unit.call_sign} is {unit.status}", current_status=unit.status, field="unit_id"
        )
    network = destinations.regions.get(post.region)
    if network is None or not _in_region(network, unit):
        raise PostOutsideRegion(
            f"post {post.name} is in region {post.region}, not in {unit.call_sign}'s region"
        )
    pending = await db_session.scalar(
        select(CoverageMove)
        .where(CoverageMove.unit_id == unit.id)
        .order_by(CoverageMove.accepted_at.desc())
        .limit(1)
    )  # the unit's latest move: sent on to another post since, it may be sent back here
    last_event = await db_session.scalar(
        select(func.max(UnitEvent.at)).where(UnitEvent.unit_id == unit.id)
    )
    if (pending is not None and pending.post_id == post.id
            and (last_event is None or pending.accepted_at > last_event)):
        raise Conflict(f"{unit.call_sign} is already moving up to {post.name}",
                       code="move_up_pending")
    point = to_shape(post.location)
    move = CoverageMove(unit_id=unit.id, post_id=post.id, region=post.region, actor=actor)
    db_session.add(move)
    await db_session.flush()
    payload: CoverageMoveUp = {
        "unit_id": str(unit.id), "call_sign": unit.call_sign, "post_id": str(post.id),
        "post_name": post.name, "region": post.region, "move_id": str(move.id),
        "lat": point.y, "lng": point.x,
    }
    record_event(
        db_session,
        channel=COVERAGE_MOVE_UP.channel,
        event_type=COVERAGE_MOVE_UP.event_type,
        aggregate_type="unit",
        aggregate_id=unit.id,
        payload=payload,
    )
    body = (
        f"LIFELINE {unit.call_sign}: move up to {post.name} "
        f"({point.y:.5f},{point.x:.5f}) and stand by there. "
        f"Map: https://www.openstreetmap.org/?mlat={point.y:.5f}&mlon={point.x:.5f}"
    )
    for phone in unit.crew_phones or []:
        queue_sms(db_session, to_number=phone, body=body, purpose="move_up", unit_id=unit.id)
    await db_session.commit()
    return move

