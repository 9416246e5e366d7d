"""Offline geocoder (unaccent + pg_trgm), case address/source, duplicate-call flag and link.

Revision ID: 20261205_geocoding
Revises: 0012_multi_unit_dispatch
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "20261205_geocoding"
down_revision = "0012_multi_unit_dispatch"
branch_labels = None
depends_on = None

#: unaccent() is only STABLE (its dictionary could change); a fixed dictionary makes it safe to
#: index, so the folded name can be a stored column and the query folds the same way.
FOLD = """
CREATE OR REPLACE FUNCTION geocode_fold(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$
"""

#: As geocoding.models.WORDS (a migration never imports the live models).
WORDS = "to_tsvector('simple', regexp_replace(geocode_fold(name), '[^[:alnum:]]+', ' ', 'g'))"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
    op.execute(FOLD)
    op.create_table(
        "geocode_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("housenumber", sa.Text()),
        sa.Column("street", sa.Text()),
        sa.Column("cross_street", sa.Text()),
        sa.Column("point", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("lines", Geometry("MULTILINESTRING", srid=4326, spatial_index=False)),
        sa.PrimaryKeyConstraint("id", name="pk_geocode_entries"),
    )
    op.create_index("ix_geocode_entries_region_kind", "geocode_entries", ["region", "kind"])
    op.create_index("ix_geocode_entries_point", "geocode_entries", ["point"],
                    postgresql_using="gist")
    op.create_index("ix_geocode_entries_lines", "geocode_entries", ["lines"],
                    postgresql_using="gist")
    op.create_table(
        "geocode_names",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("folded", sa.Text(), sa.Computed("geocode_fold(name)", persisted=True)),
        sa.Column("words", postgresql.TSVECTOR(), sa.Computed(WORDS, persisted=True)),
        sa.ForeignKeyConstraint(["entry_id"], ["geocode_entries.id"],
                                name="fk_geocode_names_entry_id_geocode_entries",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_geocode_names"),
    )
    op.create_index("ix_geocode_names_folded", "geocode_names", ["folded"],
                    postgresql_using="gin", postgresql_ops={"folded": "gin_trgm_ops"})
    op.create_index("ix_geocode_names_entry_id", "geocode_names", ["entry_id"])
    op.create_index("ix_geocode_names_words", "geocode_names", ["words"], postgresql_using="gin")
    op.create_table(
        "geocode_regions",
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("bbox", Geometry("POLYGON", srid=4326, spatial_index=False), nullable=False),
        sa.PrimaryKeyConstraint("region", name="pk_geocode_regions"),
    )
    op.add_column("emergency_cases", sa.Column("address", sa.Text()))
    op.add_column("emergency_cases", sa.Column("source", sa.String(8), nullable=False,
                                               server_default="app"))
    op.add_column("emergency_cases", sa.Column("possible_duplicate_of", sa.Uuid()))
    op.add_column("emergency_cases", sa.Column("linked_to", sa.Uuid()))
    op.create_foreign_key("fk_emergency_cases_possible_duplicate_of_emergency_cases",
                          "emergency_cases", "emergency_cases",
                          ["possible_duplicate_of"], ["id"], ondelete="SET NULL")
    op.create_foreign_key("fk_emergency_cases_linked_to_emergency_cases",
                          "emergency_cases", "emergency_cases", ["linked_to"], ["id"])
    op.create_index("ix_emergency_cases_linked_to", "emergency_cases", ["linked_to"])


def downgrade() -> None:
    op.drop_index("ix_emergency_cases_linked_to", table_name="emergency_cases")
    op.drop_constraint("fk_emergency_cases_linked_to_emergency_cases", "emergency_cases",
                       type_="foreignkey")
    op.drop_constraint("fk_emergency_cases_possible_duplicate_of_emergency_cases",
                       "emergency_cases", type_="foreignkey")
    for column in ("linked_to", "possible_duplicate_of", "source", "address"):
        op.drop_column("emergency_cases", column)
    op.drop_table("geocode_regions")
    op.drop_table("geocode_names")
    op.drop_table("geocode_entries")
    op.execute("DROP FUNCTION IF EXISTS geocode_fold(text)")
    # The extensions stay: other objects may use them, and keeping them is harmless.
