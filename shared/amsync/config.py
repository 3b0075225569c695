"""Configuration: a model over the function's environment, validated once at cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator


class Settings(BaseModel):
    """What every function may need; each reads it once at import (never ``os.environ`` in logic)."""

    model_config = ConfigDict(frozen=True)

    acumatica_url: HttpUrl
    acumatica_endpoint: str = Field(pattern=r"^/entity/Default/\d+\.\d+\.\d+$")
    acumatica_secret_name: str
    acumatica_max_sessions: int = Field(default=2, ge=1)
    # keep: one API session per warm container; per_invocation: log out after each invocation (scarce seats);
    # pool: the licence's seats as OAuth sessions every container borrows for its Acumatica calls (data/tokens.py).
    acumatica_session_policy: Literal["keep", "per_invocation", "pool"] = "keep"
    # The KMS key that seals the pooled sessions' tokens in DynamoDB (policy pool).
    acumatica_token_key: str = ""
    # How long an invocation waits for a free licence seat before its records back off (well under the timeout).
    acumatica_seat_wait_s: float = Field(default=10.0, ge=0)
    magento_url: HttpUrl
    magento_secret_name: str
    webhook_secret_name: str
    settings_table: str
    bindings_table: str
    connector_log_table: str
    connector_log_ttl_days: int = Field(default=90, ge=1)
    # How long a row's View details (request/response: names, addresses, phones, e-mails) are kept; then only the
    # row's masked summary is left. Shorter than the row's own TTL.
    connector_log_detail_ttl_days: int = Field(default=14, ge=1)
    order_queue_url: str
    magento_order_queue_url: str
    fulfilment_queue_url: str
    inventory_queue_url: str
    customer_queue_url: str = ""
    return_queue_url: str = ""  # Magento credit memos -> Acumatica returns (docs/returns.md)
    # HTTP timeouts (seconds) for both APIs: well under the function timeout.
    http_connect_timeout: float = 5.0
    http_timeout: float = 10.0
    # Kept back from every invocation for its end (failed records' visibility, re-sends, giving a seat back): no
    # record, call or retry is started that would eat into it.
    deadline_reserve_s: float = Field(default=1.0, ge=0)
    # First backoff (seconds) of a record that must wait (order not in Magento yet, 429/5xx); doubles per attempt.
    retry_base_delay_s: int = Field(default=10, ge=1)
    # Receives before a record goes to its DLQ: the queues' RedrivePolicy maxReceiveCount (the template keeps both).
    max_receive_count: int = Field(default=5, ge=1)
    # How long a Magento create may be in flight before another attempt may take over (> one call's timeout).
    create_lease_s: float = Field(default=60.0, gt=0)
    # How far before its watermark each reconciler run reads again: records Acumatica commits late with an older
    # stamp (a long transaction), and Magento orders committed late, are found within this window.
    reconcile_overlap_s: float = Field(default=900.0, ge=0)
    # Largest push body the webhook accepts (Acumatica rows are small; a huge post is hostile or a misconfigured GI).
    max_push_bytes: int = 256 * 1024

    @model_validator(mode="after")
    def _lease_outlasts_a_call(self) -> Settings:
        if self.create_lease_s <= self.http_timeout:
            raise ValueError(f"CREATE_LEASE_S ({self.create_lease_s:g}) must be longer than HTTP_TIMEOUT "
                             f"({self.http_timeout:g}): a create still in flight would lose its lease to a second one")
        return self

    @model_validator(mode="after")
    def _pool_has_its_key(self) -> Settings:
        if self.acumatica_session_policy == "pool" and not self.acumatica_token_key:
            raise ValueError("ACUMATICA_SESSION_POLICY pool keeps the sessions' tokens sealed with a KMS key: "
                             "ACUMATICA_TOKEN_KEY is empty")
        return self

    @model_validator(mode="after")
    def _details_expire_before_their_row(self) -> Settings:
        if self.connector_log_detail_ttl_days >= self.connector_log_ttl_days:
            raise ValueError(f"CONNECTOR_LOG_DETAIL_TTL_DAYS ({self.connector_log_detail_ttl_days}) must be less than "
                             f"CONNECTOR_LOG_TTL_DAYS ({self.connector_log_ttl_days}): personal data in a row's "
                             "details may not outlive the row's masked summary")
        return self

    @property
    def record_budget_s(self) -> float:
        """The time one queued record may need: a lookup and a write that each take their whole HTTP timeout. A
        record is started only while its invocation has this much left (and every call is bounded on its own)."""
        return 2 * self.http_timeout

    @property
    def acumatica_base(self) -> str:
        return str(self.acumatica_url).rstrip("/")

    @property
    def magento_base(self) -> str:
        return str(self.magento_url).rstrip("/")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if env is None else env
        fields = {name: source[name.upper()] for name in cls.model_fields if name.upper() in source}
        return cls.model_validate(fields)
