"""The whole local world: both simulators, moto + the local runtime, wired as a merchant would wire them.

- the Acumatica simulator's push destination points at the webhook (Function URL) with the header secret;
- the connector's secrets (Secrets Manager in moto) hold the simulators' credentials;
- the template's AcumaticaUrl / MagentoUrl parameters point at the simulators;
- the connector's settings are seeded with the walkthrough's mappings (docs/configuration.md).

`make local` runs it in the foreground and writes ``.local/endpoints.json``; tests start it as a fixture.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from acumatica_sim import AcumaticaSimulator, SimConfig
from acumatica_sim import config as acu_config
from amsync_local.remote_sim import RemoteSimulator
from amsync_local.runtime import LocalRuntime
from amsync_local.template import PROJECT_ROOT
from magento_sim import MagentoSimulator

ENDPOINT = "/entity/Default/24.200.001"
WEBHOOK_HEADER = "X-AMSync-Key"
SECRET_NAMES = {"acumatica": "amsync/acumatica", "magento": "amsync/magento", "webhook": "amsync/webhook"}


# The push notification of docs/acumatica-setup.md (section 2): the inquiries and the fields whose change fires a
# notification (tests/functional/test_push_setup.py keeps the two in step). AMSync-Payments is not in it: a payment
# applied or released changes its order's UnpaidBalance, which the order's own row carries.
PUSH_QUERIES: dict[str, tuple[str, ...] | None] = {
    "AMSync-SalesOrders": ("Status", "UnpaidBalance", "OrderTotal", "isB2B", "isStaffCustomer"),
    "AMSync-Shipments": ("Status",),
    "AMSync-SalesInvoices": ("Status",),
    "AMSync-StockAvailability": ("QtyAvailable", "QtyOnHand"),
}


@dataclass
class WorldOptions:
    host: str = "127.0.0.1"
    aws_port: int = 0
    webhook_port: int = 0
    acumatica_port: int = 0
    magento_port: int = 0
    visibility_scale: float = 0.02  # 180 s -> ~4 s: a failed record comes back quickly enough to watch
    timeout_scale: float = 1.0  # the functions' Timeout (tests play a 30 s function in 3 s with 0.1)
    schedule_scale: float = 1.0
    start_schedules: bool = True
    retry_base_delay_s: int = 1
    seed_settings: bool = True
    acumatica_max_sessions: int = 10  # the simulator's licence and the connector's seat pool alike
    acumatica_session_policy: str = "pool"  # the template's default (production)
    oauth: bool = True
    http_timeout_s: float = 5.0
    create_lease_s: float = 8.0  # > http_timeout_s
    push_workers: int = 1  # Acumatica's push delivery threads (more = faster, order no longer kept)
    magento_hang_s: float = 8.0  # > http_timeout_s: how long an injected timeout keeps the client waiting
    stack_name: str = "amsync-local"
    function_log: Path | None = None  # where the functions' JSON log lines go (None: stdout, as on Lambda)
    extra_parameters: dict[str, str] = field(default_factory=dict)
    template_path: Path | None = None  # a changed copy of template.yaml (tests); None: the project's own
    # each simulator in a process of its own (long runs: the world's Python then uses more than one core); tests
    # keep them in-process, where they can reach into the simulators' state
    sims_in_processes: bool = False
    # the inquiries the push notification sends and their tracked fields (SM302000), as docs/acumatica-setup.md
    # section 2 sets them up; None: every inquiry with Track All Fields
    push_queries: dict[str, tuple[str, ...] | None] | None = field(default_factory=lambda: dict(PUSH_QUERIES))


class LocalWorld:
    def __init__(self, options: WorldOptions | None = None) -> None:
        self.options = options or WorldOptions()
        self.webhook_secret = secrets.token_urlsafe(24)
        o = self.options
        acu_config = SimConfig()
        acu_config.push.workers = o.push_workers
        # a dropped answer hangs past the connector's timeout, then the connection is released
        if o.sims_in_processes:  # the proxies offer the surface the long runs use (remote_sim.py)
            self.acumatica = cast(AcumaticaSimulator, RemoteSimulator(
                "acumatica", config=acu_config, host=o.host, port=o.acumatica_port))
            self.magento = cast(MagentoSimulator, RemoteSimulator(
                "magento", host=o.host, port=o.magento_port, hang_seconds=o.magento_hang_s))
        else:
            self.acumatica = AcumaticaSimulator(acu_config, host=o.host, port=o.acumatica_port)
            self.magento = MagentoSimulator(host=o.host, port=o.magento_port, hang_seconds=o.magento_hang_s)
        self.runtime: LocalRuntime | None = None

    def __enter__(self) -> LocalWorld:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def acumatica_credentials(self) -> dict[str, str]:
        creds = {"username": acu_config.ADMIN_USERNAME, "password": acu_config.ADMIN_PASSWORD,
                 "tenant": acu_config.TENANT}
        if self.options.oauth:
            creds |= {"client_id": acu_config.OAUTH_CLIENT_ID, "client_secret": acu_config.OAUTH_CLIENT_SECRET}
        return creds

    def start(self) -> LocalWorld:
        o = self.options
        acu_url = self.acumatica.start()
        mag_url = self.magento.start()
        self.acumatica.set_limits(max_sessions=o.acumatica_max_sessions)
        self.runtime = LocalRuntime(
            aws_port=o.aws_port, webhook_port=o.webhook_port, host=o.host,
            parameters={"AcumaticaUrl": acu_url, "MagentoUrl": mag_url, "AcumaticaEndpoint": ENDPOINT,
                        "RetryBaseDelaySeconds": str(o.retry_base_delay_s),
                        "AcumaticaMaxSessions": str(o.acumatica_max_sessions),
                        "AcumaticaSessionPolicy": o.acumatica_session_policy,
                        "HttpTimeoutSeconds": str(o.http_timeout_s), "CreateLeaseSeconds": str(o.create_lease_s),
                        **o.extra_parameters},
            secrets={
                SECRET_NAMES["acumatica"]: json.dumps(self.acumatica_credentials()),
                SECRET_NAMES["magento"]: json.dumps({"token": self.magento.token}),
                SECRET_NAMES["webhook"]: json.dumps({"header": WEBHOOK_HEADER, "current": self.webhook_secret}),
            },
            visibility_scale=o.visibility_scale, schedule_scale=o.schedule_scale, timeout_scale=o.timeout_scale,
            start_schedules=o.start_schedules, stack_name=o.stack_name,
            **({"template_path": o.template_path} if o.template_path is not None else {}),
        )
        self.runtime.start()
        if o.function_log is not None:
            self._route_function_logs(o.function_log)
        if o.seed_settings:
            from amsync_local.seed import seed_connector_settings

            seed_connector_settings(self.runtime.functions["OrderSyncFunction"].env["SETTINGS_TABLE"])
        self.acumatica.set_push_destinations([{
            "name": "amsync", "url": self.runtime.webhook_url, "header_name": WEBHOOK_HEADER,
            "header_value": self.webhook_secret, "active": True,
            "queries": None if o.push_queries is None else {k: None if v is None else list(v)
                                                            for k, v in o.push_queries.items()}}])
        return self

    def _route_function_logs(self, path: Path) -> None:
        from amsync.observability import logger as function_logger

        path.parent.mkdir(parents=True, exist_ok=True)
        self._log_stream = path.open("a", encoding="utf-8")
        handler = function_logger.registered_handler
        if hasattr(handler, "setStream"):
            handler.setStream(self._log_stream)

    def stop(self) -> None:
        if self.runtime is not None:
            self.runtime.stop()
        self.acumatica.stop()
        self.magento.stop()

    def endpoints(self) -> dict[str, Any]:
        assert self.runtime is not None
        return {
            "webhook": {"url": self.runtime.webhook_url, "header": WEBHOOK_HEADER, "secret": self.webhook_secret},
            "acumatica": {"url": self.acumatica.url, "endpoint": ENDPOINT, "username": acu_config.ADMIN_USERNAME,
                          "password": acu_config.ADMIN_PASSWORD, "tenant": acu_config.TENANT},
            "magento": {"url": self.magento.url, "token": self.magento.token},
            "aws": {"endpoint_url": self.runtime.endpoint_url, "region": "us-east-1",
                    "stack_name": self.options.stack_name,
                    "tables": {k: self.runtime.stack.physical_ids[k] for k in  # type: ignore[union-attr]
                               ("SettingsTable", "BindingsTable", "ConnectorLogTable")},
                    "queues": {k: v for k, v in self.runtime.stack.physical_ids.items()  # type: ignore[union-attr]
                               if k.endswith("Queue") or k.endswith("DLQ")}},
        }

    def write_endpoints(self, path: Path | None = None) -> Path:
        target = path or PROJECT_ROOT / ".local" / "endpoints.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.endpoints(), indent=2))
        target.chmod(0o600)
        return target

    def wait_settled(self, timeout: float = 60.0) -> bool:
        """Wait until Acumatica has delivered every push and the pipeline's queues are drained."""
        assert self.runtime is not None
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pushed = self.acumatica.wait_push_idle(timeout=max(0.1, deadline - time.monotonic()))
            idle = self.runtime.wait_idle(timeout=max(0.1, deadline - time.monotonic()))
            if pushed and idle and self.acumatica.wait_push_idle(timeout=0.1):
                return True
        return False
