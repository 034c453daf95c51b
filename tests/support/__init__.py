"""Test helpers shared by every area (real servers on loopback, database fixtures)."""
