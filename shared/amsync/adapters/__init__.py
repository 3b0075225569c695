"""API adapters: one small client per external system; the only modules that import httpx."""
