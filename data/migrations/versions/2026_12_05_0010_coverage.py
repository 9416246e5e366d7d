"""Coverage: standby posts, demand grids and accepted move-ups (issue 24).

Revision ID: 0010_coverage
Revises: 20261205_geocoding
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0010_coverage"
down_revision = "20261205_geocoding"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coverage_posts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column(
            "location", Geometry("POINT", srid=4326, spatial_index=False), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('station', 'standby')", name="ck_coverage_posts_kind"),
        sa.ForeignKeyConstraint(
            ["region"], ["regions.name"], name="fk_coverage_posts_region_regions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_coverage_posts"),
    )
    op.create_index(
        "uq_coverage_posts_region_name", "coverage_posts", ["region", "name"], unique=True
    )
    op.create_table(
        "coverage_demand",
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("cell_size_m", sa.Double(), nullable=False),
        sa.Column("bandwidth_m", sa.Double(), nullable=False),
        sa.Column("prior_share", sa.Double(), nullable=False),
        sa.Column("case_count", sa.Integer(), nullable=False),
        sa.Column("cells", postgresql.JSONB(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region"], ["regions.name"], name="fk_coverage_demand_region_regions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("region", name="pk_coverage_demand"),
    )
    op.create_table(
        "coverage_moves",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("drive_s", sa.Double()),
        sa.Column("coverage_before", sa.Double()),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name="fk_coverage_moves_unit_id_units", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["coverage_posts.id"], name="fk_coverage_moves_post_id_coverage_posts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_coverage_moves"),
    )
    op.create_index(
        "ix_coverage_moves_unit_accepted", "coverage_moves", ["unit_id", "accepted_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_coverage_moves_unit_accepted", table_name="coverage_moves")
    op.drop_table("coverage_moves")
    op.drop_table("coverage_demand")
    op.drop_index("uq_coverage_posts_region_name", table_name="coverage_posts")
    op.drop_table("coverage_posts")
