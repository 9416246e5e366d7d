"""Found by the load run: GPS pings of one unit arriving together must not fail each other."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.conftest import add_unit


async def test_concurrent_pings_all_succeed_and_the_newest_fix_wins(client, operator):
    unit = await add_unit(client, operator.headers)
    base = datetime.now(UTC) - timedelta(seconds=30)
    times = [base + timedelta(seconds=i) for i in range(24)]

    async def ping(i: int, at: datetime):
        body = {"lat": 60.1690 + i * 1e-4, "lng": 24.9400, "recorded_at": at.isoformat()}
        return await client.post(
            f"/api/v1/units/{unit['id']}/position", json=body, headers=operator.headers
        )

    responses = await asyncio.gather(*(ping(i, at) for i, at in reversed(list(enumerate(times)))))
    assert [r.status_code for r in responses] == [200] * len(times), [r.text for r in responses]
    view = (await client.get(f"/api/v1/units/{unit['id']}", headers=operator.headers)).json()
    assert datetime.fromisoformat(view["position_recorded_at"]) == times[-1]
