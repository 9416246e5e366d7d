"""Hospitals, what they can treat, and whether their emergency department takes patients now."""
