"""The console's base map: our own roads as GeoJSON, bbox-filtered and simplified per zoom."""

from __future__ import annotations

HELSINKI_BBOX = "24.930,60.160,24.960,60.182"


def vertices(collection: dict) -> int:
    return sum(len(f["geometry"]["coordinates"]) for f in collection["features"])


async def test_roads_come_from_postgis_inside_the_box_and_simplify_when_zoomed_out(client):
    close = await client.get("/api/v1/map/roads", params={"bbox": HELSINKI_BBOX, "zoom": 17})
    assert close.status_code == 200, close.text
    roads = close.json()
    assert roads["type"] == "FeatureCollection" and not roads["truncated"]
    assert len(roads["features"]) > 500
    assert all(f["geometry"]["type"] == "LineString" for f in roads["features"])
    for feature in roads["features"]:
        for lng, lat in feature["geometry"]["coordinates"]:
            assert 24.9 < lng < 25.0 and 60.1 < lat < 60.2

    far = (await client.get("/api/v1/map/roads", params={"bbox": HELSINKI_BBOX, "zoom": 11})).json()
    assert vertices(far) < vertices(roads) / 2

    corner = await client.get(
        "/api/v1/map/roads", params={"bbox": "24.9440,60.1690,24.9460,60.1700"}
    )
    assert 0 < len(corner.json()["features"]) < len(roads["features"]) / 5

    empty = await client.get("/api/v1/map/roads", params={"bbox": "10,10,10.1,10.1"})
    assert empty.json()["features"] == []


async def test_a_bad_box_is_a_clear_422(client):
    for bbox in ("nonsense", "1,2,3", "25,60,24,61", "0,95,1,96"):
        response = await client.get("/api/v1/map/roads", params={"bbox": bbox})
        assert response.status_code == 422, bbox
        assert response.json()["errors"][0]["field"] == "bbox"
    assert (await client.get("/api/v1/map/roads", params={"bbox": HELSINKI_BBOX, "zoom": 40})
            ).status_code == 422
