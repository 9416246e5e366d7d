"""What the address search, reverse geocoding and region routes answer."""

from __future__ import annotations

from console_api.responses import Answer


class PointGeometry(Answer):
    """A GeoJSON Point: coordinates are [lng, lat] (RFC 7946)."""

    type: str
    coordinates: list[float]


class AddressHit(Answer):
    """What was found, how well it matched and how far from the focus."""

    id: str
    label: str
    kind: str
    score: float
    region: str
    matched_name: str | None
    street: str | None
    housenumber: str | None
    distance_m: float | None


class AddressFeature(Answer):
    """One hit as a GeoJSON Feature."""

    type: str
    geometry: PointGeometry
    properties: AddressHit


class AddressSearch(Answer):
    """A GeoJSON FeatureCollection ranked by match; ``message`` only when nothing matched."""

    type: str
    query: str
    features: list[AddressFeature]
    message: str | None = None


class ReversePlace(Answer):
    """The address of a point; every field null (and ``message`` set) when nothing is near."""

    label: str | None
    kind: str | None
    street: str | None
    on_street: str | None = None
    distance_m: float | None
    message: str | None = None


class RegionCentre(Answer):
    lat: float
    lng: float


class RegionBounds(Answer):
    """An imported region: ``bbox`` [west, south, east, north] of its roads and its centre."""

    name: str
    bbox: list[float]
    centre: RegionCentre
    road_nodes: int
    hospitals: int
