"""Where ambulances reach a hospital: its entrance or campus road, and how it was chosen.

Revision ID: 0010_hospital_entrances
Revises: 0010_authority
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0010_hospital_entrances"
down_revision = "0010_authority"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "hospitals", sa.Column("entrance", Geometry("POINT", srid=4326, spatial_index=False))
    )
    op.add_column("hospitals", sa.Column("access_kind", sa.String(24)))
    op.add_column("hospitals", sa.Column("access_snap_m", sa.Double()))


def downgrade() -> None:
    op.drop_column("hospitals", "access_snap_m")
    op.drop_column("hospitals", "access_kind")
    op.drop_column("hospitals", "entrance")
