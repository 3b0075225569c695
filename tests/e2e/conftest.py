"""Fixtures live in e2e_support (a uniquely named module the tests import helpers from)."""

from e2e_support import *  # noqa: F403
