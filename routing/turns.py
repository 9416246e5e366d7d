"""The turn-expanded (edge-based) graph: turn restrictions, turn costs, U-turns, junction delays.

A node-based graph cannot say "no left turn from A into B": every way into a junction may leave
by every way out. Here each state is a directed road edge ("having just driven edge ``a``"),
and an arc ``a -> b`` exists where ``b`` may follow ``a`` at their shared junction. Its cost is
the turn's cost, the junction's delay and the travel time of ``b``.

Turn costs follow OSRM's car profile (``profiles/car.lua``): a sigmoid of the turn angle that
charges turns across oncoming traffic more (left turns where traffic keeps right, right turns
where it keeps left: :data:`LEFT_HAND_TRAFFIC`), only at junctions of three or more roads, and
a U-turn penalty. A U-turn is allowed where the road ends (:data:`DEAD_END_UTURN_S`) and
elsewhere only at a heavy penalty (:data:`UTURN_PENALTY_S`). Junction delays
(:data:`NODE_DELAY_S`) are charged on every arc through a node tagged
``highway=traffic_signals|stop|give_way|crossing``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from routing.graph import MIN_TRAVEL_TIME_S, NODE_KINDS, FloatArray, Int64Array, RoadGraph
from routing.graph import TurnRestriction as TurnRestriction

#: OSRM car.lua: the largest turn penalty (seconds) and the bias towards turns that do not cross
#: oncoming traffic.
TURN_PENALTY_S: Final[float] = 7.5
TURN_BIAS: Final[float] = 1.075
#: A U-turn where the road ends (OSRM car.lua's ``u_turn_penalty``), on top of the turn cost.
DEAD_END_UTURN_S: Final[float] = 20.0
#: A U-turn anywhere else: allowed, since an ambulance may turn round, but only when nothing
#: else is within two minutes.
UTURN_PENALTY_S: Final[float] = 120.0
#: Delay per junction control (seconds). Signals as OSRM's ``traffic_light_penalty``; a stop
#: sign the time to stop and pull away; give way and crossings a slow-down.
NODE_DELAY_S: Final[dict[str, float]] = {
    "traffic_signals": 2.0,
    "stop": 2.0,
    "give_way": 1.0,
    "crossing": 1.0,
}
#: ISO 3166-1 codes of the countries where traffic keeps left.
LEFT_HAND_TRAFFIC: Final[frozenset[str]] = frozenset(
    {
        "AG", "AI", "AU", "BB", "BD", "BM", "BN", "BS", "BT", "BW", "CY", "DM", "FJ", "FK",
        "GB", "GD", "GG", "GY", "HK", "ID", "IE", "IM", "IN", "JE", "JM", "JP", "KE", "KI",
        "KN", "KY", "LC", "LK", "LS", "MO", "MS", "MT", "MU", "MV", "MW", "MY", "MZ", "NA",
        "NP", "NR", "NZ", "PG", "PK", "SB", "SC", "SG", "SH", "SR", "SZ", "TC", "TH", "TL",
        "TO", "TT", "TV", "TZ", "UG", "VC", "VG", "VI", "WS", "ZA", "ZM", "ZW",
    }
)  # fmt: skip


def restriction_from_tags(
    tags: Mapping[str, str], members: Sequence[tuple[str, int, str]]
) -> TurnRestriction | None:
    """
    Read an OSM ``type=restriction`` relation as it binds an ambulance.

    Parameters
    ----------
    tags : mapping of str to str
        The relation's tags: ``restriction`` (or ``restriction:emergency``, which wins, or
        ``restriction:motorcar``/``restriction:motor_vehicle``), ``except``.
    members : sequence of (type, ref, role)
        Types ``n``/``w``; roles ``from``, ``via``, ``to``.

    Returns
    -------
    TurnRestriction or None
        ``None`` when it does not bind an ambulance (``except`` lists ``emergency``, it is for
        another vehicle, conditional) or is malformed (not one ``from`` and one ``to`` way,
        no via, a via of both kinds).
    """
    value = tags.get("restriction:emergency")
    if value is None:
        value = (
            tags.get("restriction:motorcar")
            or tags.get("restriction:motor_vehicle")
            or tags.get("restriction")
        )
    value = (value or "").strip().lower()
    excepted = {v.strip().lower() for v in (tags.get("except") or "").split(";")}
    if "emergency" in excepted or not value.startswith(("no_", "only_")):
        return None
    from_ways = [ref for kind, ref, role in members if kind == "w" and role == "from"]
    to_ways = [ref for kind, ref, role in members if kind == "w" and role == "to"]
    via_nodes = tuple(ref for kind, ref, role in members if kind == "n" and role == "via")
    via_ways = tuple(ref for kind, ref, role in members if kind == "w" and role == "via")
    if len(from_ways) != 1 or len(to_ways) != 1:
        return None
    if not ((len(via_nodes) == 1 and not via_ways) or (via_ways and not via_nodes)):
        return None
    return TurnRestriction(value.startswith("only_"), from_ways[0], via_nodes, via_ways, to_ways[0])


def turn_cost_s(angle_deg: FloatArray, *, left_hand: bool) -> FloatArray:
    """
    OSRM's turn cost for turn angles in degrees (0 straight on, positive to the right).

    Parameters
    ----------
    angle_deg : numpy.ndarray
        In ``(-180, 180]``.
    left_hand : bool
        Traffic keeps left (right turns cross it).

    Returns
    -------
    numpy.ndarray
        Seconds, from about 0 (straight on) to :data:`TURN_PENALTY_S` (a U-turn).
    """
    bias = 1 / TURN_BIAS if left_hand else TURN_BIAS
    a = np.abs(angle_deg) / 180.0
    right = angle_deg >= 0  # one sigmoid per turn, its slope and offset by side
    slope = np.where(right, 13 / bias, 13 * bias)
    offset = np.where(right, 6.5 * bias, 6.5 / bias)
    result: FloatArray = TURN_PENALTY_S / (1 + np.exp(-(slope * a - offset)))
    return result


@dataclass(frozen=True, eq=False)
class TurnGraph:
    """
    The edge-based graph of a :class:`RoadGraph`.

    State ``i < graph.n_edges`` is "at the end of edge ``i``"; the states after it are copies
    of edges on a ``via`` way of a restriction (``state_edge`` maps every state to its edge),
    which remember that the way was entered from the restriction's ``from`` way.
    Arc ``k`` runs ``arc_from[k] -> arc_to[k]`` and costs ``arc_turn_s[k]`` (turn and junction
    delay) plus the travel time of ``state_edge[arc_to[k]]``.
    """

    n_edges: int
    state_edge: Int64Array
    arc_from: Int64Array
    arc_to: Int64Array
    arc_turn_s: FloatArray
    left_hand: bool
    banned_arcs: int
    """Arcs removed by restrictions (and by ``only_*``), for the import log."""

    @property
    def n_states(self) -> int:
        """Number of states (edges and their copies)."""
        return len(self.state_edge)

    def arc_cost(self, edge_time: FloatArray) -> FloatArray:
        """Arc costs under ``edge_time`` (seconds per edge; ``inf`` closes it)."""
        cost: FloatArray = self.arc_turn_s + edge_time[self.state_edge[self.arc_to]]
        return cost

    def adjacency(self, edge_time: FloatArray) -> sp.csr_matrix:
        """``n_states x n_states`` CSR of arc costs; closed arcs left out."""
        cost = self.arc_cost(edge_time)
        keep = np.isfinite(cost)
        n = self.n_states
        matrix = sp.csr_matrix(
            (np.maximum(cost[keep], MIN_TRAVEL_TIME_S), (self.arc_from[keep], self.arc_to[keep])),
            shape=(n, n),
        )
        matrix.sum_duplicates()  # arcs are unique per (from, to): nothing is added up
        return matrix


def _bearings(graph: RoadGraph) -> tuple[FloatArray, FloatArray]:
    """Compass bearing (degrees) of each edge where it leaves its source and enters its target."""
    coords, offsets = graph.geometry_coords, graph.geometry_offsets
    first, last = offsets[:-1], offsets[1:] - 1
    scale = np.cos(np.radians(graph.node_lat.mean())) if graph.n_nodes else 1.0

    def bearing(a: Int64Array, b: Int64Array) -> FloatArray:
        dx = (coords[b, 0] - coords[a, 0]) * scale
        dy = coords[b, 1] - coords[a, 1]
        result: FloatArray = np.degrees(np.arctan2(dx, dy))
        return result

    return bearing(first, first + 1), bearing(last - 1, last)


def build_turn_graph(
    graph: RoadGraph,
    *,
    left_hand: bool | None = None,
    node_delay_s: Mapping[str, float] | None = None,
    turn_costs: bool = True,
) -> TurnGraph:
    """
    Expand a road graph into its edge-based graph.

    Parameters
    ----------
    graph : RoadGraph
        With its ``restrictions``, ``node_kind`` and ``country``.
    left_hand : bool, optional
        Traffic keeps left; default from ``graph.country`` (:data:`LEFT_HAND_TRAFFIC`).
    node_delay_s : mapping, optional
        Seconds per junction control (default :data:`NODE_DELAY_S`).
    turn_costs : bool
        Charge turn angles, U-turns and junction delays; ``False`` keeps only what is allowed
        (restrictions, U-turns only where the road ends), at no cost.

    Returns
    -------
    TurnGraph
    """
    if left_hand is None:
        left_hand = (graph.country or "").upper() in LEFT_HAND_TRAFFIC
    delays = NODE_DELAY_S if node_delay_s is None else node_delay_s
    src, tgt = graph.edge_source.astype(np.int64), graph.edge_target.astype(np.int64)
    n, m = graph.n_nodes, graph.n_edges
    by_source = np.argsort(src, kind="stable")
    out_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=out_start[1:])
    out_deg = np.diff(out_start)
    # Every (in-edge a, out-edge b) pair at a's target.
    per_a = out_deg[tgt]
    arc_from = np.repeat(np.arange(m, dtype=np.int64), per_a)
    first = np.repeat(out_start[tgt], per_a)
    offset = np.arange(len(arc_from)) - np.repeat(np.cumsum(per_a) - per_a, per_a)
    arc_to = by_source[first + offset]
    junction = tgt[arc_from]
    is_uturn = tgt[arc_to] == src[arc_from]
    # A dead end for a: nothing leaves a's target but back the way a came.
    others = np.bincount(arc_from, weights=~is_uturn, minlength=m)
    dead_end = others[arc_from] == 0
    # Roads meeting at each node: its distinct neighbours either way.
    pairs = np.sort(np.concatenate([src * n + tgt, tgt * n + src]))
    pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])]  # np.unique hashes: 10x slower
    roads_at = np.bincount(pairs // n, minlength=n)
    turn = np.zeros(len(arc_from))
    if turn_costs:
        leave, enter = _bearings(graph)
        angle = (leave[arc_to] - enter[arc_from] + 180.0) % 360.0 - 180.0
        cost = turn_cost_s(angle, left_hand=left_hand)
        turn = np.where((roads_at[junction] > 2) | is_uturn, cost, 0.0)
        turn += np.where(is_uturn, np.where(dead_end, DEAD_END_UTURN_S, UTURN_PENALTY_S), 0.0)
        kind_delay = np.array([delays.get(k, 0.0) for k in NODE_KINDS])
        turn += kind_delay[graph.node_kind[junction]]
    allowed = dead_end | ~is_uturn if not turn_costs else np.ones(len(arc_from), dtype=bool)
    allowed &= ~_banned(graph, arc_from, arc_to, junction)
    banned = int(len(arc_from) - allowed.sum())
    arc_from, arc_to, turn = arc_from[allowed], arc_to[allowed], turn[allowed]
    state_edge = np.arange(m, dtype=np.int64)
    arc_from, arc_to, turn, state_edge, extra = _via_way_copies(
        graph, arc_from, arc_to, turn, state_edge
    )
    return TurnGraph(m, state_edge, arc_from, arc_to, turn, bool(left_hand), banned + extra)


def _edges_of(graph: RoadGraph, way: int) -> Int64Array:
    return np.flatnonzero(graph.edge_osm_way_id == way)


def _banned(
    graph: RoadGraph, arc_from: Int64Array, arc_to: Int64Array, junction: Int64Array
) -> NDArray[np.bool_]:
    """Arcs a via-node restriction forbids."""
    banned = np.zeros(len(arc_from), dtype=bool)
    osm = graph.node_osm_id
    for r in graph.restrictions:
        if not r.via_nodes:
            continue
        via = r.via_nodes[0]
        from_edges = _edges_of(graph, r.from_way)
        from_edges = from_edges[osm[graph.edge_target[from_edges]] == via]
        to_edges = _edges_of(graph, r.to_way)
        to_edges = to_edges[osm[graph.edge_source[to_edges]] == via]
        if not len(from_edges) or not len(to_edges):
            continue  # outside the extract or the kept component
        at = np.isin(arc_from, from_edges)
        into = np.isin(arc_to, to_edges)
        banned |= at & (~into if r.only else into)
    return banned


def _via_path(graph: RoadGraph, r: TurnRestriction) -> list[int] | None:
    """The directed edges along the via ways, from the ``from`` way to the ``to`` way."""
    osm_src = graph.node_osm_id[graph.edge_source]
    osm_tgt = graph.node_osm_id[graph.edge_target]

    def nodes_of(way: int) -> set[int]:
        edges = _edges_of(graph, way)
        return set(osm_src[edges].tolist()) | set(osm_tgt[edges].tolist())

    shared = nodes_of(r.from_way) & nodes_of(r.via_ways[0])
    if len(shared) != 1:
        return None
    node = shared.pop()
    path: list[int] = []
    for i, via in enumerate(r.via_ways):
        following = r.via_ways[i + 1] if i + 1 < len(r.via_ways) else r.to_way
        goal = nodes_of(via) & nodes_of(following)
        if len(goal) != 1:
            return None
        end = goal.pop()
        walk = _walk_way(_edges_of(graph, via).tolist(), osm_src, osm_tgt, node, end)
        if walk is None:
            return None
        path.extend(walk)
        node = end
    return path


def _walk_way(
    edges: list[int], osm_src: Int64Array, osm_tgt: Int64Array, start: int, end: int
) -> list[int] | None:
    """Directed edges of one way leading from OSM node ``start`` to ``end`` (breadth first)."""
    came: dict[int, int] = {}
    frontier = [start]
    seen = {start}
    while frontier and end not in seen:
        following = []
        for node in frontier:
            for e in edges:
                if int(osm_src[e]) == node and int(osm_tgt[e]) not in seen:
                    seen.add(int(osm_tgt[e]))
                    came[int(osm_tgt[e])] = e
                    following.append(int(osm_tgt[e]))
        frontier = following
    if end not in came:
        return None
    walk = [came[end]]
    while int(osm_src[walk[-1]]) != start:
        walk.append(came[int(osm_src[walk[-1]])])
    walk.reverse()
    return walk


def _via_way_copies(
    graph: RoadGraph,
    arc_from: Int64Array,
    arc_to: Int64Array,
    turn: FloatArray,
    state_edge: Int64Array,
) -> tuple[Int64Array, Int64Array, FloatArray, Int64Array, int]:
    """Copy the via edges of each via-way restriction so the banned sequence cannot be driven.

    Entering the via path from the ``from`` way leads to copies of its edges; the copies leave
    the path anywhere it may be left, except into the ``to`` way at its end (``no_*``), or
    only into it (``only_*``).
    """
    new_from, new_to, new_turn = [arc_from], [arc_to], [turn]
    removed = np.zeros(len(arc_from), dtype=bool)
    n_states = len(state_edge)
    copies: list[int] = []
    for r in graph.restrictions:
        if not r.via_ways:
            continue
        path = _via_path(graph, r)
        if not path:
            continue
        to_edges = _edges_of(graph, r.to_way)
        from_edges = _edges_of(graph, r.from_way)
        entry = np.flatnonzero(np.isin(arc_from, from_edges) & (arc_to == path[0]))
        if not len(entry):
            continue
        copy_of = {edge: n_states + i for i, edge in enumerate(path)}
        n_states += len(path)
        copies.extend(path)
        removed[entry] = True
        new_from.append(arc_from[entry])
        new_to.append(np.full(len(entry), copy_of[path[0]], dtype=np.int64))
        new_turn.append(turn[entry])
        for i, edge in enumerate(path):
            mine = np.flatnonzero(arc_from == edge)
            targets = arc_to[mine]
            last = i == len(path) - 1
            keep = np.ones(len(mine), dtype=bool)
            if not last:
                keep &= targets != path[i + 1]
            elif r.only:
                keep &= np.isin(targets, to_edges)
            else:
                keep &= ~np.isin(targets, to_edges)
            new_from.append(np.full(int(keep.sum()), copy_of[edge], dtype=np.int64))
            new_to.append(targets[keep])
            new_turn.append(turn[mine][keep])
            if not last:
                onward = targets == path[i + 1]
                new_from.append(np.full(int(onward.sum()), copy_of[edge], dtype=np.int64))
                new_to.append(np.full(int(onward.sum()), copy_of[path[i + 1]], dtype=np.int64))
                new_turn.append(turn[mine][onward])
    if not copies:
        return arc_from, arc_to, turn, state_edge, 0
    keep = np.concatenate([~removed] + [np.ones(len(a), dtype=bool) for a in new_from[1:]])
    return (
        np.concatenate(new_from).astype(np.int64)[keep],
        np.concatenate(new_to).astype(np.int64)[keep],
        np.concatenate(new_turn)[keep],
        np.concatenate([state_edge, np.array(copies, dtype=np.int64)]),
        int(removed.sum()),
    )


def expanded_length_m(graph: RoadGraph, turns: TurnGraph) -> FloatArray:
    """Metres of each state's edge (for distances along expanded paths)."""
    lengths: FloatArray = graph.edge_length_m[turns.state_edge]
    return lengths


__all__ = [
    "DEAD_END_UTURN_S",
    "LEFT_HAND_TRAFFIC",
    "NODE_DELAY_S",
    "TURN_PENALTY_S",
    "UTURN_PENALTY_S",
    "TurnGraph",
    "TurnRestriction",
    "build_turn_graph",
    "restriction_from_tags",
    "turn_cost_s",
]
