"""The SOS intake's write as one statement: the case, its audit event and its outbox row.

Every SOS pays for this write. An ORM flush of the three new objects cost ~2.1 ms of a worker's
CPU; this statement, built once, ~0.9 ms (measured in one process against the same database).
The three rows still commit together, or not at all, in the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, Table, bindparam, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from data.outbox import OutboxEvent
from data.sealed import SealedText
from dispatch.models import CaseEvent, EmergencyCase
from identity.sealing import seal_pending

CASES: Table = EmergencyCase.__table__
EVENTS: Table = CaseEvent.__table__
OUTBOX: Table = OutboxEvent.__table__
EVENT_COLUMNS = ("id", "case_id", "action", "from_status", "to_status", "actor_user_id", "actor",
                 "reason", "details", "at")
OUTBOX_COLUMNS = ("channel", "event_type", "aggregate_type", "aggregate_id", "payload",
                  "created_at")
#: Column name -> attribute name on :class:`EmergencyCase`.
CASE_ATTRIBUTES = {prop.columns[0].name: prop.key for prop in inspect(EmergencyCase).column_attrs}


def _params(table: Table, columns: tuple[str, ...], prefix: str) -> list[BindParameter[Any]]:
    return [bindparam(prefix + name, type_=table.c[name].type) for name in columns]


INSERT_RAISED = insert(CASES).values(
    {column.name: bindparam(column.name, type_=column.type) for column in CASES.columns}
).add_cte(
    insert(EVENTS)
    .values(dict(zip(EVENT_COLUMNS, _params(EVENTS, EVENT_COLUMNS, "event_"), strict=True)))
    .cte("raised_event"),
    # From a SELECT: as a VALUES list inside a CTE, SQLAlchemy would bind the identity key too.
    insert(OUTBOX)
    .from_select(OUTBOX_COLUMNS, select(*_params(OUTBOX, OUTBOX_COLUMNS, "outbox_")))
    .cte("raised_outbox"),
)


async def insert_raised_case(
    *,
    db_session: AsyncSession,
    case: EmergencyCase,
    event: dict[str, Any],
    outbox: dict[str, Any],
) -> None:
    """Write a new ``case`` (never added to the session), its ``case_events`` row ``event`` and
    its ``outbox`` event (``record_event``'s arguments).

    Sealed fields (the notes) are encrypted first, as a flush would.
    """
    if case in SealedText.pending_objects:
        await db_session.run_sync(seal_pending, case)
    params = {name: getattr(case, attribute) for name, attribute in CASE_ATTRIBUTES.items()}
    params.update({f"event_{name}": event[name] for name in EVENT_COLUMNS})
    params.update({f"outbox_{name}": value for name, value in outbox.items()})
    params["outbox_created_at"] = event["at"]
    await db_session.execute(INSERT_RAISED, params)
