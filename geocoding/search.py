"""Forward search: typo-tolerant, accent- and case-blind, ranked by match then by distance.

Names are folded once at import (``geocode_fold``: unaccent + lower) into stored columns: its
words (full-text, GIN) and the folded text (trigrams, GIN). A query is folded the same way and
first matched word for word, each word as a prefix (what is being typed); only when no name has
every word is it matched by trigram word similarity (``<%``), so a typo costs a few trigrams,
not the match. Both kinds of candidate are scored the same way.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

#: Word similarity a name must reach to be a candidate (pg_trgm's default is 0.6: one typo in a
#: short street name already misses it).
MATCH_THRESHOLD = 0.45
#: Candidates ranked by match before the distance to the focus decides among equals.
CANDIDATES = 200
#: Names matched word for word (every word, the last as a prefix) before ranking; only when no
#: name has every word does the slower trigram search run (typos).
WORD_HITS = 5000
KINDS = ("address", "street", "intersection", "place", "poi")

SEARCH = text("""
WITH q AS (
    SELECT geocode_fold(:q) AS t,
           (SELECT to_tsquery('simple', string_agg(quote_literal(w) || ':*', ' & '))
            FROM unnest(regexp_split_to_array(geocode_fold(:q), '[^[:alnum:]]+')) AS w
            WHERE w <> '') AS ts
),
exact AS MATERIALIZED (
    SELECT n.entry_id, n.name, n.folded
    FROM geocode_names n, q
    WHERE n.words @@ q.ts AND (CAST(:region AS text) IS NULL OR n.region = :region)
    LIMIT :word_hits
),
fuzzy AS (
    SELECT n.entry_id, n.name, n.folded
    FROM geocode_names n, q
    WHERE NOT EXISTS (SELECT 1 FROM exact)
      AND q.t <% n.folded AND (CAST(:region AS text) IS NULL OR n.region = :region)
),
matched AS (
    -- Every word of the query is in the name: word similarity is full by construction.
    SELECT x.entry_id, x.name, 1.0 AS ws, similarity(q.t, x.folded) AS s FROM exact x, q
    UNION ALL
    SELECT f.entry_id, f.name, word_similarity(q.t, f.folded), similarity(q.t, f.folded)
    FROM fuzzy f, q
),
hits AS (
    SELECT DISTINCT ON (entry_id) entry_id, name, ws, s
    FROM matched
    ORDER BY entry_id, ws + s DESC
),
scored AS (
    -- Ids and scores only: a street's lines (often TOASTed) are read for the finalists alone.
    SELECT h.entry_id, h.name,
           -- The house number said decides between an address and its street; a number that
           -- could be a street's ("Street 7") is not enough to beat that street.
           0.5 * h.ws + 0.5 * h.s
             + CASE WHEN e.housenumber IS NULL THEN 0
                    WHEN cardinality(CAST(:numbers AS text[])) = 0 THEN -0.1
                    WHEN lower(e.housenumber) = ANY(CAST(:numbers AS text[])) THEN 0.1
                    ELSE -0.15 END AS score
    FROM hits h JOIN geocode_entries e ON e.id = h.entry_id
    ORDER BY score DESC
    LIMIT :candidates
),
placed AS (
    SELECT e.id, e.kind, e.label, e.region, e.street, e.housenumber, s.name, s.score,
           CASE WHEN e.lines IS NOT NULL AND CAST(:lng AS float8) IS NOT NULL
                THEN ST_ClosestPoint(e.lines, ST_SetSRID(ST_MakePoint(:lng, :lat), 4326))
                ELSE e.point END AS at
    FROM scored s JOIN geocode_entries e ON e.id = s.entry_id
)
SELECT id, kind, label, region, street, housenumber, name, score,
       ST_X(at) AS lng, ST_Y(at) AS lat,
       CASE WHEN CAST(:lng AS float8) IS NULL THEN NULL
            ELSE ST_Distance(CAST(at AS geography),
                             CAST(ST_SetSRID(ST_MakePoint(:lng, :lat), 4326) AS geography))
       END AS distance_m
FROM placed
ORDER BY round(CAST(score AS numeric), 1) DESC, distance_m NULLS LAST, score DESC, label
LIMIT :limit
""")
#: For this transaction only. The planner prices word_similarity() like a cheap operator and
#: picks a scan of every name (35 ms on the 6k names of Helsinki); the trigram index takes ~1 ms.
THRESHOLD = text(
    "SELECT set_config('pg_trgm.word_similarity_threshold', :t, true),"
    " set_config('enable_seqscan', 'off', true)"
)


@dataclass(frozen=True)
class Hit:
    """One search result and the point to route to."""

    id: uuid.UUID
    kind: str
    label: str
    region: str
    score: float
    lat: float
    lng: float
    distance_m: float | None
    matched: str
    street: str | None
    housenumber: str | None

    def as_feature(self) -> dict[str, Any]:
        """A GeoJSON Feature (RFC 7946: coordinates are lng, lat)."""
        return {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [self.lng, self.lat]},
            "properties": {
                "id": str(self.id), "label": self.label, "kind": self.kind,
                "score": round(min(self.score, 1.0), 3), "region": self.region,
                "matched_name": self.matched, "street": self.street,
                "housenumber": self.housenumber,
                "distance_m": round(self.distance_m, 1) if self.distance_m is not None else None,
            },
        }


def house_numbers(query: str) -> list[str]:
    """Tokens that may be a house number (``12``, ``12a``, ``12-14``), lower case."""
    return [t.lower() for t in re.findall(r"\b\d+[\w/-]*", query)]


async def search(
    db_session: AsyncSession,
    *,
    query: str,
    region: str | None = None,
    near: tuple[float, float] | None = None,
    limit: int = 10,
) -> list[Hit]:
    """The best ``limit`` matches of ``query``; ``near`` is the (lat, lng) focus."""
    await db_session.execute(THRESHOLD, {"t": str(MATCH_THRESHOLD)})
    lat, lng = near if near is not None else (None, None)
    rows = await db_session.execute(SEARCH, {
        "q": query, "region": region, "numbers": house_numbers(query), "lat": lat, "lng": lng,
        "limit": limit * 3, "candidates": CANDIDATES, "word_hits": WORD_HITS,
    })
    hits: dict[tuple[str, str, str], Hit] = {}
    for r in rows:
        # One line per label: the nearest of a street's pieces, or of one address given to
        # several buildings of a block, is the one to offer.
        hits.setdefault((r.region, r.kind, r.label), Hit(
            id=r.id, kind=r.kind, label=r.label, region=r.region, score=float(r.score),
            lat=r.lat, lng=r.lng, distance_m=r.distance_m, matched=r.name, street=r.street,
            housenumber=r.housenumber,
        ))
    return list(hits.values())[:limit]
