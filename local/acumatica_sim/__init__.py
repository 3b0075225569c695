"""Acumatica ERP simulator: contract-based REST API (Default 24.200.001 / 23.200.001) plus push notifications.

Test equipment for the amsync connector. It shares no code with the connector (never imports ``amsync``).
"""

from acumatica_sim.app import AcumaticaSimulator, build_app
from acumatica_sim.config import SimConfig

__all__ = ["AcumaticaSimulator", "SimConfig", "build_app"]
