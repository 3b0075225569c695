"""Fixtures live in acu_support (a uniquely named module the tests import helpers from)."""

from acu_support import *  # noqa: F403
