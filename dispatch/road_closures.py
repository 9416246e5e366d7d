"""Operators close roads; the closure is stored for every worker and applied here at once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import shapely
from geoalchemy2.shape import to_shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from data.base import utcnow
from data.errors import InvalidInput, NotFound
from dispatch.destinations import Destinations, RegionNetwork
from routing import store as road_store
from routing.closures import close_along_line, close_area
from routing.models import RoadClosure


@dataclass(frozen=True)
class ClosureInfo:
    """A closure as clients see it."""

    id: uuid.UUID
    region: str
    kind: str
    reason: str | None
    geometry: dict
    created_at: datetime
    expires_at: datetime | None
    edges_closed: int | None = None


def _info(row: RoadClosure, edges: int | None = None) -> ClosureInfo:
    return ClosureInfo(
        id=row.id,
        region=row.region,
        kind=row.kind,
        reason=row.reason,
        geometry=shapely.geometry.mapping(to_shape(row.geom)),
        created_at=row.created_at,
        expires_at=row.expires_at,
        edges_closed=edges,
    )


def _region_of(destinations: Destinations, geometry: BaseGeometry) -> RegionNetwork:
    hits = [r for r in destinations.regions.values() if r.area.intersects(geometry)]
    if not hits:
        raise InvalidInput("the closure lies outside every service area", field="geometry")
    return min(hits, key=lambda r: r.area.area)


def declare_closure(
    sync_engine: Engine,
    destinations: Destinations,
    *,
    geometry: BaseGeometry,
    reason: str,
    expires_at: datetime | None,
    created_by: str,
) -> ClosureInfo:
    """Close the roads along a line or inside a polygon until ``expires_at`` (or until lifted)."""
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("expires_at is in the past", field="expires_at")
    network = _region_of(destinations, geometry)
    graph = network.engine.graph
    if isinstance(geometry, shapely.Polygon | shapely.MultiPolygon):
        closure = close_area(graph, geometry, expires_at=expires_at, reason=reason)
    else:
        closure = close_along_line(graph, geometry, expires_at=expires_at, reason=reason)
    if len(closure.edges) == 0:
        raise InvalidInput("no drivable road lies along or inside this geometry", field="geometry")
    with Session(sync_engine) as session:
        row = road_store.save_closure(
            session, region=network.name, closure=closure, created_by=created_by
        )
        session.commit()
        info = _info(row, edges=len(closure.edges))
    network.engine.add_closure(closure)
    network.closure_ids.add(closure.closure_id)
    return info


def lift_closure(sync_engine: Engine, destinations: Destinations, closure_id: uuid.UUID) -> None:
    """Reopen the roads of a closure (here at once, elsewhere within the sync interval)."""
    with Session(sync_engine) as session:
        row = session.get(RoadClosure, closure_id)
        if row is None or not road_store.lift_closure(session, closure_id=closure_id):
            raise NotFound(f"no open closure {closure_id}", code="closure_not_found")
        session.commit()
        region = row.region
    network = destinations.regions.get(region)
    if network is not None and network.engine.lift_closure(str(closure_id)):
        network.closure_ids.discard(str(closure_id))


def active_closures(sync_engine: Engine, *, region: str | None = None) -> list[ClosureInfo]:
    """Closures in force now."""
    now = utcnow()
    with Session(sync_engine) as session:
        query = select(RoadClosure).where(
            RoadClosure.lifted_at.is_(None),
            RoadClosure.expires_at.is_(None) | (RoadClosure.expires_at > now),
        )
        if region is not None:
            query = query.where(RoadClosure.region == region)
        return [_info(row) for row in session.scalars(query.order_by(RoadClosure.created_at))]
