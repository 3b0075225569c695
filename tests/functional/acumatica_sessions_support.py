"""What the session tests share (test_acumatica_session, test_token_pool): the connector's Acumatica secret with an
OAuth client, and an Acumatica simulator for the module (the ``acu_sim`` fixture, through conftest.py; a uniquely
named module the tests import from)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from acumatica_sim import AcumaticaSimulator, SimConfig
from acumatica_sim import config as acu_config

ENDPOINT = "/entity/Default/24.200.001"
CREDS = {"username": acu_config.ADMIN_USERNAME, "password": acu_config.ADMIN_PASSWORD, "tenant": acu_config.TENANT,
         "client_id": acu_config.OAUTH_CLIENT_ID, "client_secret": acu_config.OAUTH_CLIENT_SECRET}


@pytest.fixture(scope="module")
def acu_sim() -> Iterator[AcumaticaSimulator]:
    sim = AcumaticaSimulator(SimConfig(), host="127.0.0.1", port=0)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
