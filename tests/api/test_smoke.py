from tests.conftest import sos_body


async def test_sos_roundtrip(client, operator):
    r = await client.post("/api/v1/emergency/cases", json=sos_body(), headers={"Idempotency-Key": "k1"})
    assert r.status_code == 201, r.text
    case = r.json()
    r = await client.get(f"/api/v1/emergency/cases/{case['id']}", headers=operator.headers)
    assert r.status_code == 200, r.text
    print(r.json())
