"""Hospital status as OASIS EDXL-HAVE 1.0 XML, out and in, validated against the OASIS schema.

The schema files ship in ``facilities/have_schema`` (provenance and licence in its README); they
are read from disk, never fetched. EDXL-HAVE 1.0 (OASIS Standard, 2008) has no per-service status
with an end time: a service is reported in ``ServiceCoverageStatus`` as offered (available or
limited) or not (unavailable), and Lifeline adds one ``CommentText`` per non-available service,
``lifeline-service capability=... status=... until=... reason=...``, so a document written here
round-trips without loss while staying valid for any HAVE consumer.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from data.errors import InvalidInput
from facilities.capabilities import Capability, provided

if TYPE_CHECKING:  # xmlschema takes ~1 s to import: loaded on first use, not at worker start
    import xmlschema
    from xmlschema import XMLResource

SCHEMA_DIR = Path(__file__).resolve().parent / "have_schema"
HAVE = "urn:oasis:names:tc:emergency:EDXL:HAVE:1.0"
XPIL = "urn:oasis:names:tc:ciq:xpil:3"
XNL = "urn:oasis:names:tc:ciq:xnl:3"
GML = "http://www.opengis.net/gml"
NAMESPACES = {"have": HAVE, "xpil": XPIL, "xnl": XNL, "gml": GML}
MEDIA_TYPE = "application/xml"

#: ED status <-> EMSTrafficStatus.
TRAFFIC = {"open": "Normal", "diverting": "Advisory", "closed": "Closed"}
ED_STATUS = {v: k for k, v in TRAFFIC.items()}

#: Where each capability sits in ServiceCoverageStatus (schema order), as a path of elements.
COVERAGE: tuple[tuple[Capability, tuple[str, ...]], ...] = (
    (Capability.BURNS, ("Burn",)),
    (Capability.STEMI_PCI, ("CardiologyIndicator", "CardiologySubType", "CardiologyInvasive")),
    (Capability.GENERAL_ED, ("EmergencyDepartment",)),
    (Capability.STROKE_THROMBECTOMY, ("NeurologyIndicator", "NeurologySubType",
                                      "NeurologyInvasive")),
    (Capability.STROKE_THROMBOLYSIS, ("NeurologyIndicator", "NeurologySubType",
                                      "NeurologyNonInvasive")),
    (Capability.OBSTETRIC, ("OBGYNIndicator", "OBGYNSubType", "OBGYNWithLaborDelivery")),
    (Capability.PAEDIATRIC, ("Pediatrics",)),
    (Capability.PSYCHIATRIC, ("PsychiatricIndicator", "Psychiatric")),
)
TRAUMA_LEVELS = {Capability.TRAUMA_1: "Level1", Capability.TRAUMA_2: "Level2",
                 Capability.TRAUMA_3: "Level3"}
COMMENT = re.compile(
    r"^lifeline-service capability=(?P<capability>\w+) status=(?P<status>limited|unavailable)"
    r"(?: until=(?P<until>\S+))?(?: reason=(?P<reason>.*))?$"
)


@lru_cache(maxsize=1)
def schema() -> xmlschema.XMLSchema10:
    """The OASIS schema, loaded once per process from the shipped files (about 2 s)."""
    import xmlschema

    return xmlschema.XMLSchema10(str(SCHEMA_DIR / "edxl-have.xsd"), allow="sandbox")


@dataclass(frozen=True)
class ServiceReport:
    """One capability's status as a HAVE document states it."""

    capability: str
    status: str  # available | limited | unavailable
    reason: str | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class HospitalReport:
    """What a HAVE document says about one hospital, with where it said it."""

    path: str
    hospital_id: uuid.UUID | None
    name: str
    ed_status: str | None
    beds_available: int | None
    services: list[ServiceReport] = field(default_factory=list)
    updated_at: datetime | None = None


@dataclass(frozen=True)
class HospitalState:
    """What Lifeline knows of one hospital, to be written out."""

    hospital_id: uuid.UUID
    name: str
    lat: float
    lng: float
    capabilities: list[str]
    ed_status: str
    beds_available: int | None
    updated_at: datetime | None
    services: dict[str, ServiceReport]  # capability -> status that is not available


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, ns: str = HAVE) -> ET.Element:
    element = ET.SubElement(parent, _q(ns, tag))
    if text is not None:
        element.text = text
    return element


def _service_comment(report: ServiceReport) -> str:
    text = f"lifeline-service capability={report.capability} status={report.status}"
    if report.until is not None:
        text += f" until={report.until.isoformat()}"
    if report.reason:
        text += f" reason={' '.join(report.reason.split())}"
    return text


def _coverage(parent: ET.Element, state: HospitalState) -> None:
    offers = provided(state.capabilities)
    coverage = _sub(parent, "ServiceCoverageStatus")
    groups: dict[str, ET.Element] = {}

    def offered(capability: Capability) -> str:
        report = state.services.get(capability.value)
        return "false" if report is not None and report.status == "unavailable" else "true"

    for capability, path in COVERAGE:
        if capability not in offers:
            continue
        node = coverage
        for depth, tag in enumerate(path[:-1]):  # one indicator element shared by its subtypes
            key = "/".join(path[: depth + 1])
            if key not in groups:
                groups[key] = _sub(node, tag)
            node = groups[key]
        _sub(node, path[-1], offered(capability))
    trauma = [c for c in TRAUMA_LEVELS if c in offers]
    if trauma:
        indicator = _sub(coverage, "TraumaCenterServicesIndicator")
        _sub(indicator, "TraumaCenterServices", offered(trauma[0]))
        _sub(indicator, "TraumaCenterServicesLevel", TRAUMA_LEVELS[trauma[0]])
    for report in sorted(state.services.values(), key=lambda r: r.capability):
        _sub(coverage, "CommentText", _service_comment(report))


def to_have(hospitals: Iterable[HospitalState]) -> str:
    """A ``HospitalStatus`` document for the hospitals (the caller validates it in tests)."""
    for prefix, uri in NAMESPACES.items():
        ET.register_namespace(prefix, uri)
    root = ET.Element(_q(HAVE, "HospitalStatus"))
    for state in hospitals:
        hospital = _sub(root, "Hospital")
        organization = _sub(hospital, "Organization")
        info = _sub(organization, "OrganizationInformation")
        name = _sub(info, "OrganisationName", ns=XNL)
        _sub(name, "NameElement", state.name, ns=XNL)
        identifiers = _sub(info, "Identifiers", ns=XPIL)
        identifier = _sub(identifiers, "Identifier", ns=XPIL)
        identifier.set(_q(XPIL, "Type"), "RegistrationID")
        _sub(identifier, "IdentifierElement", str(state.hospital_id), ns=XPIL)
        where = _sub(organization, "OrganizationGeoLocation")
        point = _sub(where, "Point", ns=GML)
        _sub(point, "pos", f"{state.lat:.7f} {state.lng:.7f}", ns=GML)
        department = _sub(hospital, "EmergencyDepartmentStatus")
        traffic = _sub(department, "EMSTraffic")
        _sub(traffic, "EMSTrafficStatus", TRAFFIC.get(state.ed_status, "Closed"))
        if state.beds_available is not None:
            beds = _sub(_sub(hospital, "HospitalBedCapacityStatus"), "BedCapacity")
            _sub(beds, "BedType", "EmergencyDepartment")
            capacity = _sub(beds, "Capacity")
            _sub(capacity, "CapacityStatus",
                 "Vacant/Available" if state.beds_available > 0 else "NotAvailable")
            _sub(capacity, "AvailableCount", str(state.beds_available))
        _coverage(hospital, state)
        _sub(hospital, "LastUpdateTime", (state.updated_at or datetime.now().astimezone())
             .isoformat())
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _parse(text: str | bytes) -> XMLResource:
    """Parse with the defused parser: no DTD entities, no external references."""
    from xmlschema import XMLResource

    return XMLResource(text, defuse="always", allow="none")


def validation_errors(text: str | bytes) -> list[tuple[str, str]]:
    """``(element path, reason)`` of every schema violation; a document that is not even XML is
    one error at ``/``."""
    try:
        resource = _parse(text)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the client's document
        return [("/", f"not well-formed XML: {exc}")]
    return _errors(resource)


def _errors(resource: XMLResource) -> list[tuple[str, str]]:
    return [(error.path or "/", error.reason or str(error))
            for error in schema().iter_errors(resource)]


def _text(element: ET.Element | None) -> str | None:
    return element.text.strip() if element is not None and element.text else None


def _find(parent: ET.Element, path: str) -> ET.Element | None:
    return parent.find(path, NAMESPACES)


def _instant(value: str | None, *, field: str) -> datetime | None:
    """An ISO 8601 time with its offset, or a 422 naming where it was."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidInput(f"{value!r} is not a time with a UTC offset", field=field,
                           code="invalid_have_document")
    return parsed


def _services(coverage: ET.Element | None, path: str) -> list[ServiceReport]:
    if coverage is None:
        return []
    stated: dict[str, ServiceReport] = {}
    for capability, path in COVERAGE:
        value = _text(_find(coverage, "/".join(f"have:{tag}" for tag in path)))
        if value is not None:
            status = "available" if value.lower() in ("true", "1") else "unavailable"
            stated[capability.value] = ServiceReport(capability.value, status)
    trauma = _find(coverage, "have:TraumaCenterServicesIndicator")
    if trauma is not None:
        level = _text(_find(trauma, "have:TraumaCenterServicesLevel"))
        offered = _text(_find(trauma, "have:TraumaCenterServices"))
        capability = next((c for c, lvl in TRAUMA_LEVELS.items() if lvl == level), None)
        if capability is not None and offered is not None:
            status = "available" if offered.lower() in ("true", "1") else "unavailable"
            stated[capability.value] = ServiceReport(capability.value, status)
    for comment in coverage.findall("have:CommentText", NAMESPACES):
        match = COMMENT.match(_text(comment) or "")
        if match is None:
            continue
        until = _instant(match["until"], field=f"{path}/have:CommentText")
        stated[match["capability"]] = ServiceReport(
            match["capability"], match["status"], match["reason"], until
        )
    return list(stated.values())


def parse_have(text: str | bytes) -> list[HospitalReport]:
    """Validate against the schema (422 naming the element path of the first violation), then
    read each hospital's identity, ED status, ED beds and services."""
    try:
        resource = _parse(text)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the client's document
        raise InvalidInput(f"not well-formed XML: {exc}", field="/",
                           code="invalid_have_document") from None
    errors = _errors(resource)
    if errors:
        path, reason = errors[0]
        raise InvalidInput(f"not a valid EDXL-HAVE 1.0 document at {path}: {reason}",
                           field=path, code="invalid_have_document")
    root = resource.root
    reports = []
    for index, hospital in enumerate(root.findall("have:Hospital", NAMESPACES), start=1):
        path = f"/have:HospitalStatus/have:Hospital[{index}]"
        info = _find(hospital, "have:Organization/have:OrganizationInformation")
        raw_id = next(
            (_text(_find(i, "xpil:IdentifierElement"))
             for i in info.findall("xpil:Identifiers/xpil:Identifier", NAMESPACES)
             if i.get(_q(XPIL, "Type")) == "RegistrationID"),
            None,
        )
        try:
            hospital_id = uuid.UUID(raw_id) if raw_id else None
        except ValueError:
            hospital_id = None
        traffic = _text(_find(hospital, "have:EmergencyDepartmentStatus/have:EMSTraffic/"
                                        "have:EMSTrafficStatus"))
        beds = None
        for bed in hospital.findall("have:HospitalBedCapacityStatus/have:BedCapacity",
                                    NAMESPACES):
            if _text(_find(bed, "have:BedType")) == "EmergencyDepartment":
                count = _text(_find(bed, "have:Capacity/have:AvailableCount"))
                beds = int(count) if count is not None else None
                if beds is not None and not 0 <= beds <= 10_000:
                    raise InvalidInput("AvailableCount must be 0 to 10000",
                                       field=f"{path}/have:HospitalBedCapacityStatus",
                                       code="invalid_have_document")
        updated = _text(_find(hospital, "have:LastUpdateTime"))
        reports.append(HospitalReport(
            path=path,
            hospital_id=hospital_id,
            name=_text(_find(info, "xnl:OrganisationName/xnl:NameElement")) or "",
            ed_status=ED_STATUS.get(traffic) if traffic else None,
            beds_available=beds,
            services=_services(_find(hospital, "have:ServiceCoverageStatus"),
                               f"{path}/have:ServiceCoverageStatus"),
            updated_at=_instant(updated, field=f"{path}/have:LastUpdateTime"),
        ))
    return reports
