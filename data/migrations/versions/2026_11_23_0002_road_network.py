"""Road network: regions, directed road edges for the ETA engine and pgRouting, and road closures.

Revision ID: 0002_road_network
Revises: 0001_initial
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0002_road_network"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
    op.create_table(
        "regions",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("area", Geometry("POLYGON", srid=4326, spatial_index=False), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("node_count", sa.BigInteger(), nullable=False),
        sa.Column("edge_count", sa.BigInteger(), nullable=False),
        sa.Column("cache_path", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_regions")),
    )
    op.create_index("ix_regions_area", "regions", ["area"], postgresql_using="gist")
    op.create_table(
        "road_nodes",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("osm_id", sa.BigInteger(), nullable=False),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["region"],
            ["regions.name"],
            name=op.f("fk_road_nodes_region_regions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_nodes")),
    )
    op.create_index("ix_road_nodes_geom", "road_nodes", ["geom"], postgresql_using="gist")
    op.create_index(op.f("ix_road_nodes_region"), "road_nodes", ["region"])
    op.create_table(
        "road_edges",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("source", sa.BigInteger(), nullable=False),
        sa.Column("target", sa.BigInteger(), nullable=False),
        sa.Column("length_m", sa.Double(), nullable=False),
        sa.Column("travel_time_s", sa.Double(), nullable=False),
        sa.Column("osm_way_id", sa.BigInteger(), nullable=False),
        sa.Column("geom", Geometry("LINESTRING", srid=4326, spatial_index=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["region"],
            ["regions.name"],
            name=op.f("fk_road_edges_region_regions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source"], ["road_nodes.id"], name=op.f("fk_road_edges_source_road_nodes")
        ),
        sa.ForeignKeyConstraint(
            ["target"], ["road_nodes.id"], name=op.f("fk_road_edges_target_road_nodes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_edges")),
    )
    op.create_index("ix_road_edges_geom", "road_edges", ["geom"], postgresql_using="gist")
    op.create_index(op.f("ix_road_edges_region"), "road_edges", ["region"])
    op.create_index(op.f("ix_road_edges_source"), "road_edges", ["source"])
    op.create_index(op.f("ix_road_edges_target"), "road_edges", ["target"])
    op.create_table(
        "road_closures",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("geom", Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('segment', 'area')", name=op.f("ck_road_closures_kind")),
        sa.ForeignKeyConstraint(
            ["region"],
            ["regions.name"],
            name=op.f("fk_road_closures_region_regions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_closures")),
    )
    op.create_index("ix_road_closures_geom", "road_closures", ["geom"], postgresql_using="gist")
    op.create_index(op.f("ix_road_closures_region"), "road_closures", ["region"])


def downgrade() -> None:
    op.drop_index(op.f("ix_road_closures_region"), table_name="road_closures")
    op.drop_index("ix_road_closures_geom", table_name="road_closures")
    op.drop_table("road_closures")
    op.drop_index(op.f("ix_road_edges_target"), table_name="road_edges")
    op.drop_index(op.f("ix_road_edges_source"), table_name="road_edges")
    op.drop_index(op.f("ix_road_edges_region"), table_name="road_edges")
    op.drop_index("ix_road_edges_geom", table_name="road_edges")
    op.drop_table("road_edges")
    op.drop_index(op.f("ix_road_nodes_region"), table_name="road_nodes")
    op.drop_index("ix_road_nodes_geom", table_name="road_nodes")
    op.drop_table("road_nodes")
    op.drop_index("ix_regions_area", table_name="regions")
    op.drop_table("regions")
    # PostGIS stays: 0001 and other domains use it. pgRouting was introduced here.
    op.execute("DROP EXTENSION IF EXISTS pgrouting")
