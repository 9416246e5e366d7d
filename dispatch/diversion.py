"""The clinical diversion policy: when a diverting hospital still takes a critical patient.

Diversion (ambulance diversion, "bypass") asks ambulances to go elsewhere because the emergency
department is saturated. Published local EMS policies make it advisory for the most unstable
patients: San Luis Obispo County EMS Agency policy 202 ("extremely unstable patients, e.g.
cardiac, respiratory, or traumatic arrest or post arrest patients are not to be diverted unless
an ED in-house disaster has occurred"), Riverside County policy 5310 ("patients with airway
compromise shall not be diverted"), both in the California EMSA collection of local diversion
policies; ACEP's guidelines ask for the criteria to be set prospectively and system-wide, hence
one setting per region. An internal disaster is what ``closed`` means here, and the loss of a
key resource (e.g. "loss of CT scanner") is a service marked ``unavailable``.
Lifeline encodes that as:

* ``closed`` ED, or the required service ``unavailable``: never a destination, whatever the
  severity (nothing to override: the hospital cannot treat the patient);
* ``diverting`` ED: honoured, except for a ``critical`` patient when the diverting hospital is
  at least ``critical_override_s`` (per region, default 600 s) nearer by road than the best
  open one that can treat them, or when no open one is reachable at all. It is then offered,
  flagged ``diversion_overridden`` with both ETAs in its explanation;
* ``open`` ED with the service ``available`` or ``limited``: a destination (limited is shown).

Before triage the severity presumed from the symptom is used (cardiac arrest: critical).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

DEFAULT_CRITICAL_OVERRIDE_S = 600.0
SEVERITIES = ("low", "medium", "high", "critical")
ED_STATUSES = ("open", "diverting", "closed")
SERVICE_STATUSES = ("available", "limited", "unavailable")


@dataclass(frozen=True)
class DiversionPolicy:
    """A region's setting: how much nearer a diverting hospital must be to take a critical case."""

    critical_override_s: float = DEFAULT_CRITICAL_OVERRIDE_S


class Eligibility(NamedTuple):
    """Whether a capable hospital may be recommended, why not, and if diversion was set aside."""

    eligible: bool
    skip_reason: str | None  # service_unavailable | closed | diverting | unreachable
    diversion_overridden: bool = False


def eligibility(
    *,
    severity: str | None,
    ed_status: str,
    service_status: str,
    eta_s: float,
    best_open_eta_s: float,
    policy: DiversionPolicy,
) -> Eligibility:
    """Apply the policy to one capable hospital.

    ``best_open_eta_s`` is the road ETA to the nearest reachable open hospital whose required
    service is not unavailable (``inf`` when there is none).
    """
    if service_status == "unavailable":
        return Eligibility(False, "service_unavailable")
    if ed_status not in ("open", "diverting"):
        return Eligibility(False, "closed")
    if ed_status == "diverting":
        if (
            severity == "critical"
            and math.isfinite(eta_s)
            and best_open_eta_s - eta_s >= policy.critical_override_s
        ):
            return Eligibility(True, None, diversion_overridden=True)
        return Eligibility(False, "diverting")
    if not math.isfinite(eta_s):
        return Eligibility(False, "unreachable")
    return Eligibility(True, None)


def override_explanation(
    *, eta_s: float, best_open_eta_s: float, best_open_name: str | None, policy: DiversionPolicy
) -> str:
    """Why a diverting hospital is offered, with both ETAs, for the operator and the audit."""
    if best_open_name is None or not math.isfinite(best_open_eta_s):
        other = "no open hospital that can treat the patient is reachable"
    else:
        other = (
            f"the nearest open one, {best_open_name}, is {best_open_eta_s:.0f} s away "
            f"({best_open_eta_s - eta_s:.0f} s more)"
        )
    return (
        f"diversion overridden for a critical patient: {eta_s:.0f} s away while {other}; "
        f"the region's policy overrides diversion at {policy.critical_override_s:.0f} s or more"
    )
