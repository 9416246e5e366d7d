"""The ambulance status machine, pure: which crew/operator moves are legal from which status."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from data.errors import Conflict


class UnitStatus(StrEnum):
    """Where an ambulance stands in its cycle."""

    AVAILABLE = "available"
    ASSIGNED = "assigned"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    AT_HOSPITAL = "at_hospital"
    OUT_OF_SERVICE = "out_of_service"


class UnitType(StrEnum):
    """Advanced or basic life support."""

    ALS = "ALS"
    BLS = "BLS"


class CrewStatus(StrEnum):
    """What a crew reports from the crew page or by SMS."""

    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    AT_HOSPITAL = "at_hospital"
    HANDOVER_COMPLETE = "handover_complete"


#: Statuses in which a unit is bound to a case.
BUSY = frozenset(
    {
        UnitStatus.ASSIGNED,
        UnitStatus.EN_ROUTE,
        UnitStatus.ON_SCENE,
        UnitStatus.TRANSPORTING,
        UnitStatus.AT_HOSPITAL,
    }
)

#: (from, to) moves. ``available`` is also reachable from every busy status when the case is
#: cancelled or the patient is not transported (a "release").
UNIT_TRANSITIONS: frozenset[tuple[UnitStatus, UnitStatus]] = frozenset(
    {
        (UnitStatus.AVAILABLE, UnitStatus.ASSIGNED),
        (UnitStatus.ASSIGNED, UnitStatus.EN_ROUTE),
        (UnitStatus.ASSIGNED, UnitStatus.ON_SCENE),  # crews forget to press "en route"
        (UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE),
        (UnitStatus.ON_SCENE, UnitStatus.TRANSPORTING),
        (UnitStatus.TRANSPORTING, UnitStatus.AT_HOSPITAL),
        (UnitStatus.AVAILABLE, UnitStatus.OUT_OF_SERVICE),
        (UnitStatus.OUT_OF_SERVICE, UnitStatus.AVAILABLE),
    }
    | {(busy, UnitStatus.AVAILABLE) for busy in BUSY}
)

#: The unit status each crew report moves to.
CREW_TARGET = {
    CrewStatus.EN_ROUTE: UnitStatus.EN_ROUTE,
    CrewStatus.ON_SCENE: UnitStatus.ON_SCENE,
    CrewStatus.TRANSPORTING: UnitStatus.TRANSPORTING,
    CrewStatus.AT_HOSPITAL: UnitStatus.AT_HOSPITAL,
    CrewStatus.HANDOVER_COMPLETE: UnitStatus.AVAILABLE,
}

#: Statuses an operator may set directly (the rest come from dispatch and crew reports).
OPERATOR_SETTABLE = frozenset({UnitStatus.AVAILABLE, UnitStatus.OUT_OF_SERVICE})


class InvalidUnitTransition(Conflict):
    """The unit cannot move to that status from where it is."""

    code = "invalid_unit_transition"
    title = "Illegal unit status change"


@dataclass(frozen=True)
class UnitMove:
    """A legal status change of a unit."""

    from_status: UnitStatus
    to_status: UnitStatus


def unit_transition(current: UnitStatus, target: UnitStatus) -> UnitMove:
    """Validate a move; raise :class:`InvalidUnitTransition` when it is not in the table."""
    if (current, target) not in UNIT_TRANSITIONS:
        allowed = sorted(t.value for (f, t) in UNIT_TRANSITIONS if f == current)
        raise InvalidUnitTransition(
            f"a unit that is {current.value} cannot become {target.value}",
            current_status=current.value,
            allowed_statuses=allowed,
        )
    return UnitMove(current, target)


def crew_transition(current: UnitStatus, report: CrewStatus) -> UnitMove:
    """The unit move a crew report means; handover is legal only from at_hospital."""
    if report is CrewStatus.HANDOVER_COMPLETE and current is not UnitStatus.AT_HOSPITAL:
        raise InvalidUnitTransition(
            f"handover can only be completed at hospital, the unit is {current.value}",
            current_status=current.value,
            allowed_statuses=[],
        )
    return unit_transition(current, CREW_TARGET[report])
