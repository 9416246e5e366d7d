"""The emergency core: cases, their lifecycle, units and dispatch."""
