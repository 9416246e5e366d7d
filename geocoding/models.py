"""The geocoder's tables: one row per searchable thing, one row per name it answers to."""

from __future__ import annotations

import uuid

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import Computed, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from data.base import Base, id_column

#: Words split on anything not a letter or digit (so ``G-6`` is ``g 6``, not ``g -6``).
WORDS = "to_tsvector('simple', regexp_replace(geocode_fold(name), '[^[:alnum:]]+', ' ', 'g'))"


class GeocodeEntry(Base):
    """An address, street piece, intersection, place or POI of a region, with its routing point."""

    __tablename__ = "geocode_entries"
    __table_args__ = (
        Index("ix_geocode_entries_region_kind", "region", "kind"),
        Index("ix_geocode_entries_point", "point", postgresql_using="gist"),
        Index("ix_geocode_entries_lines", "lines", postgresql_using="gist"),
    )

    id: Mapped[uuid.UUID] = id_column()
    region: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(Text)
    housenumber: Mapped[str | None] = mapped_column(Text)
    street: Mapped[str | None] = mapped_column(Text)
    cross_street: Mapped[str | None] = mapped_column(Text)
    point: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    #: A street piece's lines (the routing point is then the line's point nearest the focus).
    lines: Mapped[WKBElement | None] = mapped_column(
        Geometry("MULTILINESTRING", srid=4326, spatial_index=False)
    )
    #: A street's ``name:<lang>`` names by language code (null when OSM has none), for map labels.
    local_names: Mapped[dict[str, str] | None] = mapped_column(JSONB)


class GeocodeName(Base):
    """One name of an entry, folded (lower case, no accents) for trigram search."""

    __tablename__ = "geocode_names"
    __table_args__ = (
        Index("ix_geocode_names_folded", "folded", postgresql_using="gin",
              postgresql_ops={"folded": "gin_trgm_ops"}),
        Index("ix_geocode_names_entry_id", "entry_id"),
        Index("ix_geocode_names_words", "words", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = id_column()
    entry_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("geocode_entries.id", ondelete="CASCADE")
    )
    region: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)
    folded: Mapped[str] = mapped_column(Text, Computed("geocode_fold(name)", persisted=True))
    #: Its words, for the exact-word (prefix) search tried before the trigram one.
    words: Mapped[str] = mapped_column(TSVECTOR, Computed(WORDS, persisted=True))


class GeocodeRegion(Base):
    """The bounding box of a region's extract: where its facilities may lie, where pages open."""

    __tablename__ = "geocode_regions"

    region: Mapped[str] = mapped_column(String(64), primary_key=True)
    bbox: Mapped[WKBElement] = mapped_column(Geometry("POLYGON", srid=4326, spatial_index=False))
