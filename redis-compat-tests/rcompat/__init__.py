"""Support code for ringcache's Redis compatibility tests (standard library only)."""
