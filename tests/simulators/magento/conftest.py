"""Fixtures live in mag_support (a uniquely named module the tests import helpers from)."""

from mag_support import *  # noqa: F403
from mag_support import _sim  # noqa: F401,E402
