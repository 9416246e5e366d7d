"""What the coverage routes answer: regions, the coverage figure, move-up proposals, posts,
an accepted move-up and the coverage cost of a dispatch."""

from __future__ import annotations

from console_api.responses import Answer, FeatureCollection, Number


class CoverageRegion(Answer):
    """A served region and its centre."""

    name: str
    lat: float
    lng: float


class CoverageUnit(Answer):
    """A free unit and the demand only it covers (``marginal_pp``, percentage points)."""

    unit_id: str
    call_sign: str
    type: str
    lat: float
    lng: float
    position_source: str
    marginal_pp: Number


class CoverageReport(Answer):
    """Demand-weighted share reached by a free unit (any, ALS) within ``minutes`` by road;
    ``uncovered`` holds the cells nobody reaches, as GeoJSON polygons."""

    region: str
    minutes: Number
    share_any: Number
    share_als: Number
    percent_any: Number
    percent_als: Number
    cells: int
    cell_size_m: Number
    demand_cases: int
    units: list[CoverageUnit]
    uncovered: FeatureCollection
    computed_ms: Number


class PostView(Answer):
    """A post: a station or a standby point."""

    id: str
    name: str
    kind: str
    lat: float
    lng: float


class MoveLimits(Answer):
    max_moves: int
    max_drive_minutes: Number


class PostPoint(Answer):
    lat: float
    lng: float


class MoveProposal(Answer):
    """Send this free unit to this post."""

    unit_id: str
    call_sign: str
    post_id: str
    post_name: str
    post: PostPoint
    drive_seconds: Number


class MoveUps(Answer):
    """Moves that raise expected coverage the most (MEXCLP), under the agency's limits."""

    region: str
    minutes: Number
    busy_fraction: Number
    limits: MoveLimits
    expected_before_pp: Number
    expected_after_pp: Number
    solver_status: str
    proposals: list[MoveProposal]
    posts: list[PostView]
    computed_ms: Number


class MoveUpAccepted(Answer):
    """A move-up sent to the crew."""

    move_id: str
    unit_id: str
    post_id: str
    region: str
    accepted_at: str


class UnitCost(Answer):
    """A recommended unit, its ETA and the coverage lost if it goes."""

    unit_id: str
    call_sign: str
    eta_seconds: Number
    coverage_lost_pp: Number | None


class DispatchSuggestion(Answer):
    """The unit the policy suggests and why (``unit_id``: null when none)."""

    unit_id: str | None
    reason: str
    extra_seconds: Number
    saving_pp: Number


class DispatchCost(Answer):
    """The coverage cost of each recommended unit and the policy's suggestion."""

    case_id: str
    severity: str | None
    minutes: Number
    units: list[UnitCost]
    suggestion: DispatchSuggestion | None
