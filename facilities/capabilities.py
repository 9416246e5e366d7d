"""The capability taxonomy: what a hospital can treat, and which capability covers which."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from functools import lru_cache


class Capability(StrEnum):
    """Emergency capabilities a facility can declare (the facilities CSV uses these names)."""

    GENERAL_ED = "general_ed"  # a 24/7 emergency department
    TRAUMA_1 = "trauma_1"  # major trauma centre: all specialties on site, 24/7
    TRAUMA_2 = "trauma_2"  # trauma unit: most severe injuries, some transferred on
    TRAUMA_3 = "trauma_3"  # local emergency hospital with trauma stabilisation
    STROKE_THROMBOLYSIS = "stroke_thrombolysis"  # CT and IV thrombolysis 24/7
    STROKE_THROMBECTOMY = "stroke_thrombectomy"  # comprehensive stroke centre
    STEMI_PCI = "stemi_pci"  # primary PCI (cath lab) 24/7
    BURNS = "burns"  # burns unit
    PAEDIATRIC = "paediatric"  # paediatric emergency department
    OBSTETRIC = "obstetric"  # labour ward with emergency obstetrics
    PSYCHIATRIC = "psychiatric"  # psychiatric emergency service


#: A higher level of care also provides the lower ones.
COVERS: dict[Capability, frozenset[Capability]] = {
    Capability.TRAUMA_1: frozenset({Capability.TRAUMA_2, Capability.TRAUMA_3}),
    Capability.TRAUMA_2: frozenset({Capability.TRAUMA_3}),
    Capability.STROKE_THROMBECTOMY: frozenset({Capability.STROKE_THROMBOLYSIS}),
}

#: Short names accepted on input for convenience.
ALIASES = {
    "trauma": Capability.TRAUMA_3,
    "stroke": Capability.STROKE_THROMBOLYSIS,
    "pci": Capability.STEMI_PCI,
    "ed": Capability.GENERAL_ED,
    "pediatric": Capability.PAEDIATRIC,
}


class UnknownCapability(ValueError):
    """A capability name outside the taxonomy."""


def parse_capability(name: str) -> Capability:
    """A capability from its name or alias; :class:`UnknownCapability` otherwise."""
    key = name.strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    try:
        return Capability(key)
    except ValueError:
        valid = ", ".join(c.value for c in Capability)
        raise UnknownCapability(f"unknown capability {name!r}; valid: {valid}") from None


def parse_capability_list(text: str, *, separator: str = ";") -> list[Capability]:
    """Parse ``general_ed;stemi_pci`` into capabilities, without duplicates, in order."""
    result: list[Capability] = []
    for part in text.split(separator):
        if part.strip():
            capability = parse_capability(part)
            if capability not in result:
                result.append(capability)
    return result


def provided(capabilities: Iterable[str]) -> frozenset[Capability]:
    """Everything a hospital with ``capabilities`` can do, lower levels included."""
    return _provided(tuple(capabilities))


@lru_cache(maxsize=4096)
def _provided(capabilities: tuple[str, ...]) -> frozenset[Capability]:
    # Every SOS asks this of every hospital of its region: a city has few distinct sets.
    result: set[Capability] = set()
    for name in capabilities:
        capability = Capability(name)
        result.add(capability)
        result |= COVERS.get(capability, frozenset())
    return frozenset(result)


def satisfies(capabilities: Iterable[str], required: Capability | str | None) -> bool:
    """Whether a hospital declaring ``capabilities`` can take a patient needing ``required``."""
    if required is None:
        return True
    return _required(required) in provided(capabilities)


@lru_cache(maxsize=64)
def _required(required: Capability | str) -> Capability:
    return Capability(required)
