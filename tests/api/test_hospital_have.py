"""EDXL-HAVE out and in, checked against the OASIS schema files shipped with the project."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta

import xmlschema

from facilities.have import SCHEMA_DIR
from tests.conftest import sign_in
from tests.support.hospitals import CENTRAL, KLUUVI, hospital_id

URL = "/api/v1/hospitals/have"
XML = {"content-type": "application/xml"}


class OasisSchema:
    """The shipped OASIS files loaded by the test itself (not the app's own validator)."""

    def __init__(self) -> None:
        self.schema = xmlschema.XMLSchema10(str(SCHEMA_DIR / "edxl-have.xsd"), allow="sandbox")

    def validate(self, document: str) -> None:
        self.schema.validate(xmlschema.XMLResource(document, allow="none", defuse="always"))


@functools.lru_cache(maxsize=1)
def oasis_schema() -> OasisSchema:
    return OasisSchema()


async def _have(client) -> str:
    r = await client.get(URL, params={"region": "helsinki"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    return r.text


async def test_region_status_is_valid_have_and_round_trips(app, client, central_admin):
    schema = oasis_schema()
    central = await hospital_id(app, CENTRAL)
    admin = await sign_in(app, client, "super_admin")
    until = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    url = f"/api/v1/hospitals/{central}/services/stroke_thrombectomy"
    r = await client.put(url, json={"status": "unavailable", "reason": "CT down",
                                    "until": until.isoformat()}, headers=central_admin.headers)
    assert r.status_code == 200, r.text
    try:
        document = await _have(client)
        schema.validate(document)
        assert document.count("<have:Hospital>") == 6
        assert "Advisory" in document and KLUUVI in document  # Kluuvi is diverting
        assert re.search(r"<have:NeurologyInvasive>false</have:NeurologyInvasive>", document)
        assert "reason=CT down" in document
        # Clear it, then apply the exported document: the status comes back exactly.
        await client.put(url, json={"status": "available"}, headers=central_admin.headers)
        r = await client.post(URL, params={"region": "helsinki"}, content=document,
                              headers={**XML, **admin.headers})
        assert r.status_code == 200, r.text
        assert r.json()["service_changes"] == ["stroke_thrombectomy"]
        services = (await client.get(f"/api/v1/hospitals/{central}/services")).json()["services"]
        state = next(s for s in services if s["capability"] == "stroke_thrombectomy")
        assert state["status"] == "unavailable" and state["reason"] == "CT down"
        assert datetime.fromisoformat(state["until"]) == until
        # Applying the same document again changes nothing.
        again = await client.post(URL, params={"region": "helsinki"}, content=document,
                                  headers={**XML, **admin.headers})
        assert again.status_code == 200 and again.json()["service_changes"] == []
        assert again.json()["capacity_changed"] == []
        schema.validate(await _have(client))
    finally:
        await client.put(url, json={"status": "available"}, headers=central_admin.headers)


async def test_ed_status_and_beds_apply_in_one_transaction(app, client, central_admin):
    central = await hospital_id(app, CENTRAL)
    before = (await client.get(f"/api/v1/hospitals/{central}")).json()
    # A known starting point: other tests change the demo hospitals' capacity too.
    r = await client.put(f"/api/v1/hospitals/{central}/capacity", headers=central_admin.headers,
                         json={"ed_status": "open", "beds_available": 9})
    assert r.status_code == 200, r.text
    document = await _have(client)
    blocks = re.findall(r"<have:Hospital>.*?</have:Hospital>", document, re.S)
    mine = next(b for b in blocks if str(central) in b)
    changed = mine.replace("<have:EMSTrafficStatus>Normal<", "<have:EMSTrafficStatus>Advisory<")
    changed = re.sub(r"<have:AvailableCount>\d+<", "<have:AvailableCount>2<", changed)
    head = document[: document.index("<have:Hospital>")]
    only_mine = head + changed + "</have:HospitalStatus>"
    oasis_schema().validate(only_mine)
    # With an unknown hospital after it, nothing at all is applied.
    stranger = mine.replace(str(central), "00000000-0000-4000-8000-000000000000")
    r = await client.post(URL, params={"region": "helsinki"},
                          content=head + changed + stranger + "</have:HospitalStatus>",
                          headers={**XML, **central_admin.headers})
    assert r.status_code == 422 and r.json()["code"] == "unknown_hospital"
    assert "Hospital[2]" in r.json()["errors"][0]["field"]
    assert (await client.get(f"/api/v1/hospitals/{central}")).json()["ed_status"] == "open"
    try:
        r = await client.post(URL, params={"region": "helsinki"}, content=only_mine,
                              headers={**XML, **central_admin.headers})
        assert r.status_code == 200, r.text
        now = (await client.get(f"/api/v1/hospitals/{central}")).json()
        assert now["ed_status"] == "diverting" and now["beds_available"] == 2
    finally:
        r = await client.put(f"/api/v1/hospitals/{central}/capacity", headers=central_admin.headers,
                             json={"ed_status": before["ed_status"],
                                   "beds_available": before["beds_available"]})
        assert r.status_code == 200


async def test_invalid_documents_name_the_element(app, client, central_admin):
    document = await _have(client)
    h = {**XML, **central_admin.headers}
    bad = document.replace("<have:EMSTrafficStatus>Normal<", "<have:EMSTrafficStatus>Sideways<", 1)
    r = await client.post(URL, params={"region": "helsinki"}, content=bad, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "invalid_have_document"
    field = r.json()["errors"][0]["field"]
    assert field.startswith("/have:HospitalStatus/have:Hospital") and "EMSTrafficStatus" in field
    missing = re.sub(r"<have:LastUpdateTime>.*?</have:LastUpdateTime>", "", document, count=1)
    r = await client.post(URL, params={"region": "helsinki"}, content=missing, headers=h)
    assert r.status_code == 422 and "Hospital[1]" in r.json()["errors"][0]["field"]
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
              '"&lol;&lol;&lol;&lol;">]><HospitalStatus>&lol2;</HospitalStatus>')
    for body in ("not xml at all", "<a>", laughs, "", '<x xmlns="urn:other"/>'):
        r = await client.post(URL, params={"region": "helsinki"}, content=body, headers=h)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_who_may_apply_a_have_document(app, client, fresh_operator, central_admin):
    document = await _have(client)
    params = {"region": "helsinki"}
    assert (await client.post(URL, params=params, content=document, headers=XML)).status_code == 401
    r = await client.post(URL, params=params, content=document,
                          headers={**XML, **fresh_operator.headers})
    assert r.status_code == 403
    # The whole region's document names five other hospitals: not this admin's to report.
    r = await client.post(URL, params=params, content=document,
                          headers={**XML, **central_admin.headers})
    assert r.status_code == 403 and r.json()["code"] == "not_your_hospital"
    r = await client.get(URL, params={"region": "atlantis"})
    assert r.status_code == 404
    assert (await client.get(URL)).status_code == 422
