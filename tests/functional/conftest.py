"""The functional tests' shared fixtures (the session tests' Acumatica simulator: acumatica_sessions_support)."""

from acumatica_sessions_support import acu_sim  # noqa: F401 - a fixture
