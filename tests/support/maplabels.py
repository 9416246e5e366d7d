"""The street labels the map would show for a bounding box (GET /api/v1/map/streets)."""

from __future__ import annotations

import httpx


async def street_labels(client: httpx.AsyncClient, bbox: str, **lang: str) -> set[str]:
    """Every feature's ``name`` at zoom 16, optionally with ``lang=``."""
    params = {"bbox": bbox, "zoom": 16, **lang}
    response = await client.get("/api/v1/map/streets", params=params)
    assert response.status_code == 200, response.text
    return {f["properties"]["name"] for f in response.json()["features"]}
