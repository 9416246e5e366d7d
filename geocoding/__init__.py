"""Offline geocoding on the region's own OpenStreetMap extract (search and reverse)."""
