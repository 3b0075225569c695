"""The settings every function validates at cold start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from amsync.config import Settings

ENV = {"ACUMATICA_URL": "https://erp.example.com", "ACUMATICA_ENDPOINT": "/entity/Default/24.200.001",
       "ACUMATICA_SECRET_NAME": "a", "MAGENTO_URL": "https://shop.example.com", "MAGENTO_SECRET_NAME": "m",
       "WEBHOOK_SECRET_NAME": "w", "SETTINGS_TABLE": "s", "BINDINGS_TABLE": "b", "CONNECTOR_LOG_TABLE": "c",
       "ORDER_QUEUE_URL": "q1", "MAGENTO_ORDER_QUEUE_URL": "q2", "FULFILMENT_QUEUE_URL": "q3",
       "INVENTORY_QUEUE_URL": "q4"}


def test_view_details_are_kept_14_of_the_rows_90_days_by_default() -> None:
    s = Settings.from_env(ENV)
    assert (s.connector_log_detail_ttl_days, s.connector_log_ttl_days) == (14, 90)


@pytest.mark.parametrize(("detail", "row"), [("90", "90"), ("30", "7")])
def test_details_may_not_be_kept_as_long_as_their_row(detail: str, row: str) -> None:
    # Given details (personal data) kept as long as, or longer than, the row's masked summary
    env = {**ENV, "CONNECTOR_LOG_DETAIL_TTL_DAYS": detail, "CONNECTOR_LOG_TTL_DAYS": row}
    # Then the function refuses to start, naming both settings
    with pytest.raises(ValidationError, match="CONNECTOR_LOG_DETAIL_TTL_DAYS .* must be less than CONNECTOR_LOG_TTL"):
        Settings.from_env(env)
