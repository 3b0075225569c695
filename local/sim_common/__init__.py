"""Pieces shared by the two simulators (never by the connector): an HTTP server thread and fault injection."""

from sim_common.faults import FaultInjector, FaultRule
from sim_common.server import ServerThread

__all__ = ["FaultInjector", "FaultRule", "ServerThread"]
