"""Errors raised by the routing library, so callers can catch routing failures by type."""

from __future__ import annotations


class RoutingError(Exception):
    """Base class of every error raised by :mod:`routing`."""


class RegionImportError(RoutingError):
    """An OSM extract could not be turned into a road graph (missing, malformed or road-less)."""


class InvalidCoordinateError(RoutingError, ValueError):
    """A latitude/longitude is not a finite point on Earth."""


class GraphFormatError(RoutingError):
    """A cached graph file is missing, truncated or from an incompatible version."""


class UnknownRegionError(RoutingError, LookupError):
    """The database holds no road network under the requested region name."""
