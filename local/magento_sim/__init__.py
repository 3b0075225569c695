"""Magento 2.4 admin REST simulator (test equipment for the amsync connector; shares no code with it)."""

from magento_sim.app import MagentoSimulator
from magento_sim.config import INTEGRATION_TOKEN, SimConfig

__all__ = ["INTEGRATION_TOKEN", "MagentoSimulator", "SimConfig"]
