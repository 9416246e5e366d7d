"""Persist road graphs and closures in PostGIS, in bulk, for fast imports and pgRouting."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import Table, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from routing.closures import Closure, close_along_line, close_area
from routing.errors import GraphFormatError, UnknownRegionError
from routing.graph import RoadGraph
from routing.models import Region, RoadClosure, RoadEdge, RoadNode

log = logging.getLogger(__name__)

_REGION_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


def _check_name(name: str) -> str:
    if not _REGION_NAME.match(name):
        raise ValueError(f"invalid region name {name!r} (letters, digits, _ . : - only)")
    return name


def region_area(graph: RoadGraph) -> shapely.Polygon:
    """
    The region's outline: convex hull of its nodes (a small box if degenerate).

    Parameters
    ----------
    graph : RoadGraph

    Returns
    -------
    shapely.Polygon
        In lon/lat.
    """
    hull = shapely.convex_hull(
        shapely.multipoints(np.column_stack((graph.node_lon, graph.node_lat)))
    )
    if not isinstance(hull, shapely.Polygon):
        hull = hull.buffer(1e-5).envelope
    return hull


def _copy(session: Session, statement: str, payload: bytes) -> None:
    raw: Any = session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(payload)


def _foreign_key_ddl() -> list[tuple[str, str]]:
    """(drop, add) statements of the road tables' foreign keys, as the models declare them.

    Built as text: SQLAlchemy's ``AddConstraint`` marks a constraint as created separately,
    which would silently drop it from later ``create_all`` calls.
    """
    statements = []
    tables: tuple[Table, ...] = (RoadEdge.__table__, RoadNode.__table__)  # type: ignore[assignment]
    for table in tables:
        for fk in sorted(table.foreign_key_constraints, key=lambda c: c.column_keys[0]):
            column = fk.column_keys[0]
            referred = fk.referred_table.name
            name = f"fk_{table.name}_{column}_{referred}"  # data.base naming convention
            target = fk.elements[0].column.name
            on_delete = f" ON DELETE {fk.ondelete}" if fk.ondelete else ""
            statements.append(
                (
                    f"ALTER TABLE {table.name} DROP CONSTRAINT {name}",
                    f"ALTER TABLE {table.name} ADD CONSTRAINT {name} FOREIGN KEY ({column})"
                    f" REFERENCES {referred} ({target}){on_delete}",
                )
            )
    return statements


def write_region(
    session: Session,
    name: str,
    graph: RoadGraph,
    *,
    cache_path: str | Path | None = None,
) -> Region:
    """
    Replace a region's road network in the database, in the session's transaction.

    Nodes and edges are streamed with ``COPY`` (geometries as hex EWKB), so a city of 100k
    nodes and 200k directed edges stores in a few seconds. Node and edge ids are allocated
    above the current maximum under a table lock; the edge ``i`` of ``graph`` gets id
    ``min(id of the region) + i``, so edge order survives a round trip. The caller commits.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        A synchronous session (``data.db.sync_session_factory``).
    name : str
        Region name (letters, digits, ``_ . : -``).
    graph : RoadGraph
    cache_path : str or pathlib.Path, optional
        Where the graph's ``.npz`` cache lives, recorded for :func:`load_region`.

    Returns
    -------
    Region
    """
    _check_name(name)
    area = from_shape(region_area(graph), srid=4326)
    values = {
        "name": name,
        "area": area,
        "imported_at": datetime.now(UTC),
        "node_count": graph.n_nodes,
        "edge_count": graph.n_edges,
        "cache_path": str(cache_path) if cache_path else None,
    }
    session.execute(
        insert(Region)
        .values(**values)
        .on_conflict_do_update(index_elements=[Region.name], set_=values)
    )
    # Ids come from max(id): the lock keeps two imports from taking the same block.
    session.execute(text("LOCK TABLE road_nodes, road_edges IN ACCESS EXCLUSIVE MODE"))
    # Row-by-row foreign-key triggers took ~5 of 12 s for Islamabad's 270k rows; the
    # constraints are dropped and re-added (validated by one join) inside this transaction,
    # so no other session ever sees the tables without them.
    foreign_keys = _foreign_key_ddl()
    for drop, _ in foreign_keys:
        session.execute(text(drop))
    session.execute(delete(RoadEdge).where(RoadEdge.region == name))
    session.execute(delete(RoadNode).where(RoadNode.region == name))
    node_base = int(session.scalar(select(func.coalesce(func.max(RoadNode.id), 0))) or 0) + 1
    edge_base = int(session.scalar(select(func.coalesce(func.max(RoadEdge.id), 0))) or 0) + 1

    points = shapely.points(graph.node_lon, graph.node_lat)
    node_wkb = shapely.to_wkb(shapely.set_srid(points, 4326), hex=True, include_srid=True)
    node_ids = np.arange(node_base, node_base + graph.n_nodes)
    _copy(
        session,
        "COPY road_nodes (id, region, osm_id, geom) FROM STDIN",
        "".join(
            f"{i}\t{name}\t{o}\t{g}\n"
            for i, o, g in zip(
                node_ids.tolist(), graph.node_osm_id.tolist(), node_wkb.tolist(), strict=True
            )
        ).encode(),
    )
    counts = np.diff(graph.geometry_offsets)
    lines = shapely.linestrings(
        graph.geometry_coords, indices=np.repeat(np.arange(graph.n_edges), counts)
    )
    edge_wkb = shapely.to_wkb(shapely.set_srid(lines, 4326), hex=True, include_srid=True)
    src = (graph.edge_source.astype(np.int64) + node_base).tolist()
    tgt = (graph.edge_target.astype(np.int64) + node_base).tolist()
    _copy(
        session,
        "COPY road_edges (id, region, source, target, length_m, travel_time_s, osm_way_id, geom)"
        " FROM STDIN",
        "".join(
            f"{i}\t{name}\t{s}\t{t}\t{length!r}\t{tt!r}\t{way}\t{g}\n"
            for i, s, t, length, tt, way, g in zip(
                range(edge_base, edge_base + graph.n_edges),
                src,
                tgt,
                graph.edge_length_m.tolist(),
                graph.edge_travel_time_s.tolist(),
                graph.edge_osm_way_id.tolist(),
                edge_wkb.tolist(),
                strict=True,
            )
        ).encode(),
    )
    for _, add in foreign_keys:
        session.execute(text(add))
    session.flush()
    if cache_path:
        # The tables hold what pgRouting needs; the cache also keeps what only the engine
        # reads (road classes, junction controls, turn restrictions, country): without it a
        # reloaded region loses its turn restrictions, driving side and calibration classes.
        graph.save(cache_path)
    region = session.get(Region, name, populate_existing=True)
    assert region is not None
    return region


def load_region(session: Session, name: str, *, prefer_cache: bool = True) -> RoadGraph:
    """
    Read a region's road graph: from its ``.npz`` cache when valid, else from the tables.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    name : str
    prefer_cache : bool
        Use the cache recorded by :func:`write_region` when it exists and matches the
        stored node and edge counts.

    Returns
    -------
    RoadGraph

    Raises
    ------
    UnknownRegionError
        No such region.
    """
    region = session.get(Region, name)
    if region is None:
        raise UnknownRegionError(name)
    if prefer_cache and region.cache_path and Path(region.cache_path).is_file():
        try:
            graph = RoadGraph.load(region.cache_path)
            if graph.n_nodes == region.node_count and graph.n_edges == region.edge_count:
                return graph
        except GraphFormatError:
            pass  # fall back to the tables
    if prefer_cache:
        log.warning(
            "region %s: no graph cache (%s); read from the tables without road classes, junction"
            " controls or turn restrictions: re-import the region to restore them",
            name,
            region.cache_path,
        )
    raw: Any = session.connection().connection.driver_connection
    with raw.cursor() as cur:
        cur.execute(
            "SELECT id, osm_id, ST_X(geom), ST_Y(geom) FROM road_nodes WHERE region = %s"
            " ORDER BY id",
            (name,),
        )
        nodes = cur.fetchall()
        cur.execute(
            "SELECT source, target, length_m, travel_time_s, osm_way_id, ST_AsBinary(geom)"
            " FROM road_edges WHERE region = %s ORDER BY id",
            (name,),
        )
        edges = cur.fetchall()
    node_id = np.array([r[0] for r in nodes], dtype=np.int64)
    src = np.searchsorted(node_id, np.array([r[0] for r in edges], dtype=np.int64))
    tgt = np.searchsorted(node_id, np.array([r[1] for r in edges], dtype=np.int64))
    geoms = shapely.from_wkb([bytes(r[5]) for r in edges])
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    offsets = np.zeros(len(edges) + 1, dtype=np.int64)
    np.cumsum(np.bincount(index, minlength=len(edges)), out=offsets[1:])
    return RoadGraph(
        node_osm_id=np.array([r[1] for r in nodes], dtype=np.int64),
        node_lon=np.array([r[2] for r in nodes], dtype=np.float64),
        node_lat=np.array([r[3] for r in nodes], dtype=np.float64),
        edge_source=src.astype(np.int32),
        edge_target=tgt.astype(np.int32),
        edge_length_m=np.array([r[2] for r in edges], dtype=np.float64),
        edge_travel_time_s=np.array([r[3] for r in edges], dtype=np.float64),
        edge_osm_way_id=np.array([r[4] for r in edges], dtype=np.int64),
        geometry_coords=coords,
        geometry_offsets=offsets,
        name=name,
    )


def save_closure(
    session: Session,
    *,
    region: str,
    closure: Closure,
    graph: RoadGraph | None = None,
    created_by: str | None = None,
) -> RoadClosure:
    """
    Record a closure. Closures built from edge ids store those edges' lines as geometry.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    region : str
    closure : Closure
    graph : RoadGraph, optional
        Needed when the closure has no geometry of its own.
    created_by : str, optional
        Who declared it (user id or name).

    Returns
    -------
    RoadClosure
    """
    geometry = closure.geometry
    if geometry is None:
        if graph is None:
            raise ValueError("a closure without geometry needs the graph to describe it")
        geometry = shapely.MultiLineString([graph.edge_coords(int(e)) for e in closure.edges])
    row = RoadClosure(
        id=uuid.UUID(closure.closure_id),
        region=region,
        kind=closure.kind,
        geom=from_shape(geometry, srid=4326),
        reason=closure.reason,
        created_by=created_by,
        expires_at=closure.expires_at,
    )
    session.add(row)
    session.flush()
    return row


def lift_closure(session: Session, *, closure_id: uuid.UUID, at: datetime | None = None) -> bool:
    """Mark a closure lifted; return whether an open one was found."""
    result = session.execute(
        update(RoadClosure)
        .where(RoadClosure.id == closure_id, RoadClosure.lifted_at.is_(None))
        .values(lifted_at=at or datetime.now(UTC))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def active_closures(
    session: Session, *, region: str, graph: RoadGraph, now: datetime | None = None
) -> list[Closure]:
    """
    Closures of a region in force at ``now``, mapped back onto ``graph``.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    region : str
    graph : RoadGraph
    now : datetime, optional

    Returns
    -------
    list of Closure
    """
    now = now or datetime.now(UTC)
    rows = session.scalars(
        select(RoadClosure).where(
            RoadClosure.region == region,
            RoadClosure.lifted_at.is_(None),
            (RoadClosure.expires_at.is_(None)) | (RoadClosure.expires_at > now),
        )
    ).all()
    result = []
    for row in rows:
        shape = to_shape(row.geom)
        if row.kind == "area":
            closure = close_area(
                graph, shape, expires_at=row.expires_at, reason=row.reason, closure_id=str(row.id)
            )
        else:
            closure = close_along_line(
                graph, shape, expires_at=row.expires_at, reason=row.reason, closure_id=str(row.id)
            )
        result.append(closure)
    return result
