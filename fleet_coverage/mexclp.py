"""Move-up as MEXCLP (Daskin 1983): place the free units to maximise expected covered demand.

A cell reached in time by ``k`` units is covered with probability ``1 - q**k`` when each unit
is busy with probability ``q`` (the busy fraction), so the k-th unit adds ``(1 - q) q**(k-1)``
of the cell's demand. The model chooses for every free unit where it waits (where it is, or a
post it can reach within the agency's drive limit), under the agency's limits: at most
``max_moves`` units move, and a station holding a unit keeps at least one. Solved exactly as a
mixed-integer programme with HiGHS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

#: Coverage levels modelled per cell: the 6th unit within reach adds under 0.1 % at q = 0.25.
MAX_LEVELS = 5
#: A proposal must come quickly; HiGHS returns its best plan so far when time runs out.
TIME_LIMIT_S = 2.0


@dataclass(frozen=True)
class Limits:
    """What an agency allows a move-up plan to do."""

    max_moves: int = 2
    max_drive_s: float = 900.0
    busy_fraction: float = 0.3
    #: A move must add at least this much expected coverage (share of demand) to be proposed.
    min_gain: float = 0.002


@dataclass(frozen=True)
class FreeUnit:
    """An available unit: the site it stands at now and its drive times to each post."""

    key: str
    site: int  # index into the sites (the posts come first, then positions off any post)
    drive_s: NDArray[np.float64]  # seconds to each post (inf: cannot get there)


@dataclass(frozen=True)
class Move:
    """One proposed relocation."""

    unit: str
    from_site: int
    to_post: int
    drive_s: float


@dataclass(frozen=True)
class Plan:
    """The solver's answer: moves and the expected coverage before and after them."""

    moves: list[Move]
    expected_before: float
    expected_after: float
    status: str
    placement: dict[str, int] = field(default_factory=dict)


def expected_coverage(
    reach: NDArray[np.bool_], weight: NDArray[np.float64], sites: Sequence[int], q: float
) -> float:
    """Expected covered demand of units placed at ``sites`` (one entry per unit)."""
    if not len(sites):
        return 0.0
    k = reach[np.asarray(sites, dtype=np.int64)].sum(axis=0)
    return float(weight @ (1.0 - q ** k.astype(np.float64)))


def _patterns(reach: NDArray[np.bool_]) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Distinct columns of ``reach`` (which sites reach a cell) and each cell's pattern index.

    Columns are packed into bytes and compared as opaque values: ``np.unique(axis=0)`` on the
    boolean matrix is several times slower.
    """
    n_sites = reach.shape[0]
    packed = np.ascontiguousarray(np.packbits(reach.T, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    unique, inverse = np.unique(keys, return_inverse=True)
    rows = unique.view(np.uint8).reshape(len(unique), packed.shape[1])
    patterns = np.unpackbits(rows, axis=1)[:, :n_sites].astype(bool)
    return patterns, inverse.ravel()


def plan_moves(
    reach: NDArray[np.bool_],
    weight: NDArray[np.float64],
    units: Sequence[FreeUnit],
    n_posts: int,
    *,
    stations: Sequence[int] = (),
    limits: Limits = Limits(),  # frozen dataclass, safe as a default
) -> Plan:
    """
    Best placement of the free units under the limits (MEXCLP).

    Parameters
    ----------
    reach : (n_sites, n_cells) bool
        Which cells each site reaches within the threshold; sites ``0 .. n_posts - 1`` are the
        posts, later ones the current positions of units that stand off any post.
    weight : (n_cells,) demand weights.
    units : the free units.
    n_posts : number of posts.
    stations : indices of posts that are stations (never emptied of the units they hold).
    limits : the agency's limits.
    """
    q = limits.busy_fraction
    if not 0.0 <= q < 1.0:
        raise ValueError("busy_fraction must lie in [0, 1)")
    current = [u.site for u in units]
    before = expected_coverage(reach, weight, current, q)
    if not units:
        return Plan([], before, before, "empty")
    # Each unit's options: stay, or a post within the drive limit.
    options: list[list[tuple[int, float]]] = []
    for u in units:
        opts = [(u.site, 0.0)]
        if limits.max_moves > 0:
            opts += [
                (p, float(u.drive_s[p])) for p in range(n_posts)
                if p != u.site and u.drive_s[p] <= limits.max_drive_s
            ]
        options.append(opts)
    used_sites = sorted({s for opts in options for s, _ in opts})
    # Cells with the same set of reaching sites behave alike: aggregate them.
    sub = reach[used_sites]
    live = sub.any(axis=0)
    patterns, inverse = _patterns(sub[:, live])
    demand = np.bincount(inverse.ravel(), weights=weight[live], minlength=len(patterns))
    site_pos = {s: i for i, s in enumerate(used_sites)}
    # Columns: y[u, option] then z[group, level].
    y_index: list[tuple[int, int, int, float]] = []  # (unit, site, column, drive)
    for ui, opts in enumerate(options):
        for s, drive in opts:
            y_index.append((ui, s, len(y_index), drive))
    n_y = len(y_index)
    y_unit = np.array([ui for ui, _s, _c, _d in y_index], dtype=np.int64)
    y_site = np.array([site_pos[s] for _u, s, _c, _d in y_index], dtype=np.int64)
    y_drive = np.array([d for _u, _s, _c, d in y_index])
    y_moves = np.array([s != units[ui].site for ui, s, _c, _d in y_index])
    hits = patterns[:, y_site]  # (groups, n_y): option reaches the group
    # Levels per group: how many distinct units could reach it, capped.
    per_unit = np.zeros((len(patterns), len(units)), dtype=bool)
    rows_g, cols_y = np.nonzero(hits)
    per_unit[rows_g, y_unit[cols_y]] = True
    levels = np.minimum(per_unit.sum(axis=1), MAX_LEVELS).astype(np.int64)
    z_start = n_y + np.concatenate([[0], np.cumsum(levels)[:-1]]).astype(np.int64)
    n_z = int(levels.sum())
    z_group = np.repeat(np.arange(len(patterns)), levels)
    z_level = np.arange(n_z) - (z_start[z_group] - n_y)
    cost = np.concatenate([
        -1e-7 * y_drive,  # a move's tiny cost keeps units where they are when it gains nothing
        demand[z_group] * (1.0 - q) * q ** z_level,
    ])
    # Rows: one per unit (waits at exactly one place), one per cell group (levels need units),
    # the move budget, and a floor per occupied station.
    entries: list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]] = []
    lower: list[float] = []
    upper: list[float] = []
    n_units = len(units)
    entries.append((y_unit, np.arange(n_y), np.ones(n_y)))
    lower += [1.0] * n_units
    upper += [1.0] * n_units
    base = n_units
    entries.append((base + z_group, n_y + np.arange(n_z), np.ones(n_z)))
    entries.append((base + rows_g, cols_y, -np.ones(len(rows_g))))
    lower += [-math.inf] * len(patterns)
    upper += [0.0] * len(patterns)
    row = base + len(patterns)
    if y_moves.any():
        moving = np.flatnonzero(y_moves)
        entries.append((np.full(len(moving), row), moving, np.ones(len(moving))))
        lower.append(-math.inf)
        upper.append(float(limits.max_moves))
        row += 1
    for station in stations:  # never strip a station below one unit
        if any(u.site == station for u in units):
            cols = np.flatnonzero(y_site == site_pos[station])
            entries.append((np.full(len(cols), row), cols, np.ones(len(cols))))
            lower.append(1.0)
            upper.append(math.inf)
            row += 1
    r = np.concatenate([e[0] for e in entries])
    c = np.concatenate([e[1] for e in entries])
    v = np.concatenate([e[2] for e in entries])
    matrix = sp.csr_matrix((v, (r, c)), shape=(row, n_y + n_z))
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 1e-6)
    h.setOptionValue("time_limit", TIME_LIMIT_S)
    inf = highspy.kHighsInf
    n_cols = n_y + n_z
    h.addCols(n_cols, cost, np.zeros(n_cols), np.ones(n_cols), 0, [], [], [])
    h.addRows(
        row,
        np.where(np.isinf(lower), -inf, lower),
        np.where(np.isinf(upper), inf, upper),
        matrix.nnz,
        matrix.indptr[:-1].astype(np.int32),
        matrix.indices.astype(np.int32),
        matrix.data,
    )
    h.changeColsIntegrality(
        n_y, np.arange(n_y, dtype=np.int32),
        np.full(n_y, highspy.HighsVarType.kInteger),
    )
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    values = np.asarray(h.getSolution().col_value)
    if len(values) != n_cols:
        return Plan([], before, before, status)
    placement: dict[str, int] = {}
    for ui, s, col, _d in y_index:
        if values[col] > 0.5:
            placement[units[ui].key] = s
    moves = [
        Move(u.key, u.site, placement[u.key], float(u.drive_s[placement[u.key]]))
        for u in units
        if placement.get(u.key, u.site) != u.site
    ]
    after = expected_coverage(reach, weight, [placement.get(u.key, u.site) for u in units], q)
    if after - before < limits.min_gain:
        return Plan([], before, before, status, {u.key: u.site for u in units})
    return Plan(moves, before, after, status, placement)
