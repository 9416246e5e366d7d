"""Hospitals in the FHIR facade: Organization + Location + one HealthcareService per capability,
its availableTime / notAvailable following the service status; all valid R4 (fhir.resources)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.healthcareservice import HealthcareService
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.organization import Organization

from tests.support.hospitals import CENTRAL, hospital_id

FHIR = "application/fhir+json"


def round_trip(model_class, body: dict):
    """Parse with the R4 model; serialising and parsing again gives the same resource."""
    model = model_class.model_validate(body)
    assert model_class.model_validate_json(model.model_dump_json()) == model
    return model


def status_from_fhir(service: HealthcareService, now: datetime) -> str:
    """What a FHIR client concludes about the service, to compare with Lifeline's own status."""
    for gap in service.notAvailable or []:
        end = gap.during.end if gap.during else None
        if end is None or end > now:
            return "unavailable"
    return "limited" if service.availabilityExceptions else "available"


async def test_hospital_services_as_fhir(app, client, fresh_operator, central_admin):
    central = await hospital_id(app, CENTRAL)
    h = fresh_operator.headers
    until = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    base = f"/api/v1/hospitals/{central}/services"
    r = await client.put(f"{base}/stroke_thrombectomy", headers=central_admin.headers,
                         json={"status": "unavailable", "reason": "CT down",
                               "until": until.isoformat()})
    assert r.status_code == 200, r.text
    r = await client.put(f"{base}/stemi_pci", headers=central_admin.headers,
                         json={"status": "limited", "reason": "one cath lab of two"})
    assert r.status_code == 200, r.text
    try:
        r = await client.get("/fhir/HealthcareService", params={"organization": str(central)},
                             headers=h)
        assert r.status_code == 200 and r.headers["content-type"].startswith(FHIR), r.text
        bundle = round_trip(Bundle, r.json())
        services = [round_trip(HealthcareService, e.resource.model_dump(mode="json"))
                    for e in bundle.entry]
        native = (await client.get(base)).json()["services"]
        assert len(services) == len(native) == bundle.total
        now = datetime.now(UTC)
        by_code = {s.type[0].coding[0].code: s for s in services}
        for state in native:
            service = by_code[state["capability"]]
            assert status_from_fhir(service, now) == state["status"], state
            assert service.providedBy.reference == f"Organization/{central}"
            assert service.location[0].reference == f"Location/{central}"
            assert service.availableTime[0].allDay is True
        gap = by_code["stroke_thrombectomy"].notAvailable[0]
        assert gap.description == "CT down" and gap.during.end == until
        assert "one cath lab of two" in by_code["stemi_pci"].availabilityExceptions

        one = by_code["stroke_thrombectomy"]
        r = await client.get(f"/fhir/HealthcareService/{one.id}", headers=h)
        assert r.status_code == 200
        assert round_trip(HealthcareService, r.json()) == one
        org = round_trip(Organization, (await client.get(f"/fhir/Organization/{central}",
                                                         headers=h)).json())
        loc = round_trip(Location, (await client.get(f"/fhir/Location/{central}",
                                                     headers=h)).json())
        assert org.name == loc.name == CENTRAL
        assert loc.managingOrganization.reference == f"Organization/{central}"
        metadata = (await client.get("/fhir/metadata")).json()
        kinds = {r["type"]: r for r in metadata["rest"][0]["resource"]}
        assert kinds["HealthcareService"]["searchParam"] == [
            {"name": "organization", "type": "reference"}]
    finally:
        for capability in ("stroke_thrombectomy", "stemi_pci"):
            await client.put(f"{base}/{capability}", json={"status": "available"},
                             headers=central_admin.headers)
    # Back to available: no notAvailable any more.
    r = await client.get(f"/fhir/HealthcareService/{central}.stroke-thrombectomy", headers=h)
    assert round_trip(HealthcareService, r.json()).notAvailable is None


async def test_healthcare_service_bad_requests(app, client, fresh_operator):
    central = await hospital_id(app, CENTRAL)
    h = fresh_operator.headers
    cases = [
        (f"/fhir/HealthcareService/{central}.teleportation", 404),
        (f"/fhir/HealthcareService/{central}.obstetric", 404),  # Central has no obstetrics
        ("/fhir/HealthcareService/garbage", 422),
        (f"/fhir/HealthcareService/{uuid.uuid4()}.burns", 404),
        ("/fhir/HealthcareService", 422),
        (f"/fhir/HealthcareService?organization={uuid.uuid4()}", 404),
        ("/fhir/HealthcareService?organization=x", 422),
    ]
    for path, status in cases:
        r = await client.get(path, headers=h)
        assert r.status_code == status, (path, r.text)
    assert (await client.get(f"/fhir/HealthcareService/{central}.burns")).status_code == 401
