"""The local runtime: moto for AWS, and Lambda's event sources played in-process, all from template.yaml.

What it plays, for every function of the template:
- SQS event sources: a poller per mapping receives batches of the template's ``BatchSize`` (waiting up to the
  ``MaximumBatchingWindowInSeconds``), invokes the handler with a Lambda-shaped SQS event on at most
  ``MaximumConcurrency`` concurrent invocations, honours ``batchItemFailures`` (only successful records are
  deleted; a raised exception fails the whole batch), and leaves failed records to come back after the queue's
  visibility timeout; moto counts receives and redrives to the DLQ after ``maxReceiveCount``. FIFO groups are
  respected by moto (a group with a message in flight delivers nothing more).
- The Function URL: an HTTP server on loopback handing the handler a payload-2.0 event; with the function's
  reserved concurrency running, a further request is refused 429 (``{"Message":"Rate Exceeded."}``) as Lambda does.
- Schedules: ``rate(...)`` expressions fired on their rate.
- IAM: each function's AWS calls (init, invocations and its event source's polling) are signed as the function's
  own execution role, assumed through moto's STS; the moto server's IAM gate allows or refuses each with the
  role's policies as AWS would (``amsync_local.identity``, ``amsync_local.iam_policy``, docs/local.md "IAM").
- Containers: each function runs in execution environments of its own, as on Lambda. A container is a fresh
  import of the handler's module (its cold start, with the function's environment as the deployed (moto)
  function has it), so its clients, sessions and caches are its own; one invocation at a time runs in a
  container, a busy function gets a new container, and an idle one is reused warm. SQS-driven functions start
  warm with as many containers as their sources' ``MaximumConcurrency`` allows. Handlers read configuration
  only at import, so functions can share one process.
- Timeouts: an invocation ends at its function's ``Timeout`` as Lambda ends it: the context's
  ``get_remaining_time_in_millis()`` counts down to that deadline, and at it the handler's thread is stopped at
  its next Python bytecode (``amsync_local.timeouts``: a thread cannot be killed, so a blocking call already
  under way, such as a request already sent, completes first, as it would at the server). The invocation fails
  with "Task timed out after N seconds" whatever the handler did meanwhile: none of its batch's records is deleted
  (they come back after the visibility timeout), and its container is discarded, never reused.

What it does not play: memory limits, reserved concurrency other than the Function URL's (nor its request rate
cap), Lambda's separate init phase (a cold start's import counts toward the invocation's time here), and process
isolation (the ``amsync`` package's own module-level state, such as its logger and boto3 client cache, is shared
by every container of the process).
``visibility_scale`` (applied to every queue's VisibilityTimeout after the stack is created), ``schedule_scale``
and ``timeout_scale`` (every function's Timeout) shrink the template's timeouts and rates so tests and demos need
not wait minutes; the template's own values are what the scale multiplies.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from botocore.config import Config

from amsync_local.identity import FunctionRole, acting_as, assume_function_roles
from amsync_local.identity import install as install_function_identity
from amsync_local.lambda_events import LambdaContext, function_url_event, scheduled_event, sqs_record
from amsync_local.metering import POLLER_AGENT
from amsync_local.stack import DeployedStack, deploy_stack
from amsync_local.template import (
    PROJECT_ROOT,
    TEMPLATE_PATH,
    FunctionSpec,
    SqsSource,
    function_specs,
    load_sam_template,
    rate_seconds,
)
from amsync_local.timeouts import InvocationTimeout, call_with_timeout

REGION = "us-east-1"
_ENV_LOCK = threading.Lock()
MAX_URL_BODY = 6 * 1024 * 1024  # Lambda's synchronous payload limit


@contextlib.contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` in os.environ for the duration (under a lock: imports of two functions never mix)."""
    with _ENV_LOCK:
        saved = {k: os.environ.get(k) for k in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@dataclass
class Invocation:
    """One handler invocation, kept for the demo's hop printout, tests and the benchmark."""

    function: str
    source: str  # queue logical id, "url" or "schedule"
    records: int
    failed_ids: list[str]
    error: str | None
    started: float
    duration_ms: float
    cpu_ms: float
    message_ids: list[str] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)


class LoadedFunction:
    """A function and its containers. ``handler`` runs one invocation in a free container (a new one, cold, when
    every container is busy); tests and the chaos harness may replace it with a wrapper around it."""

    def __init__(self, spec: FunctionSpec, name: str, env: dict[str, str], path: Path, attr: str) -> None:
        self.spec = spec
        self.name = name  # physical function name
        self.env = env
        self._path = path
        self._attr = attr
        self._lock = threading.Lock()
        self.modules: list[ModuleType] = []  # every container's module, oldest first
        self._idle: list[ModuleType] = []
        self.init_ms: list[float] = []  # each cold start
        self.handler: Callable[[Any, Any], Any] = self.run_in_container
        self.role: FunctionRole | None = None  # its execution role: every AWS call it makes is signed as this
        self.timeout_s: float = float(spec.timeout)  # the template's Timeout times the runtime's timeout_scale
        self.discarded: list[ModuleType] = []  # containers whose invocation timed out (never used again)
        self._started = 0

    @property
    def module(self) -> ModuleType:
        """The first container's module (the only one for a function that never ran two invocations at once)."""
        return self.modules[0]

    def cold_start(self) -> ModuleType:
        t0 = time.perf_counter()
        with self._lock:
            mod_name = f"amsync_fn_{self.spec.logical_id}_{self._started}"
            self._started += 1
        with patched_environ(self.env), acting_as(self.role, mod_name):  # init runs with the role too
            module_spec = importlib.util.spec_from_file_location(mod_name, self._path)
            assert module_spec and module_spec.loader
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[mod_name] = module
            module_spec.loader.exec_module(module)
        with self._lock:
            self.init_ms.append((time.perf_counter() - t0) * 1000)
            self.modules.append(module)
        return module

    def run_in_container(self, event: Any, context: Any) -> Any:
        with self._lock:
            module = self._idle.pop() if self._idle else None
        if module is None:
            module = self.cold_start()
        timed_out = False
        try:
            with acting_as(self.role, module.__name__):
                return call_with_timeout(getattr(module, self._attr), event, context, self._seconds_left(context),
                                         self.timeout_s)
        except InvocationTimeout:
            timed_out = True
            raise
        finally:
            with self._lock:  # Lambda starts a new environment after a timeout: never reuse this one
                (self.discarded if timed_out else self._idle).append(module)

    def _seconds_left(self, context: Any) -> float:
        """The invocation ends when its context says it does (the context carries the scaled timeout)."""
        clock = getattr(context, "get_remaining_time_in_millis", None)
        return clock() / 1000 if callable(clock) else self.timeout_s

    def prewarm(self, containers: int) -> None:
        for _ in range(containers - len(self.modules)):
            module = self.cold_start()
            with self._lock:
                self._idle.append(module)

    def invoke(self, event: Any) -> Any:
        ctx = LambdaContext(self.name, self.spec.memory, self.timeout_s, REGION)
        return self.handler(event, ctx)


class LocalRuntime:
    """Start with :meth:`start`, stop with :meth:`stop` (or use as a context manager)."""

    def __init__(
        self,
        *,
        aws_port: int = 0,
        webhook_port: int = 0,
        host: str = "127.0.0.1",
        parameters: dict[str, str] | None = None,
        secrets: dict[str, str] | None = None,
        visibility_scale: float = 1.0,
        schedule_scale: float = 1.0,
        timeout_scale: float = 1.0,
        poll_wait_s: int = 1,
        start_pollers: bool = True,
        start_schedules: bool = True,
        stack_name: str = "amsync-local",
        template_path: Path = TEMPLATE_PATH,
    ) -> None:
        self.host = host
        self.aws_port = aws_port  # 0: any free port, known once started (each server binds its own)
        self.webhook_port = webhook_port
        self.parameters = parameters or {}
        self.secrets = secrets or {}
        self.visibility_scale = visibility_scale
        self.schedule_scale = schedule_scale
        self.timeout_scale = timeout_scale  # every function's Timeout (and its context's clock) times this
        self.poll_wait_s = poll_wait_s
        self._start_pollers = start_pollers
        self._start_schedules = start_schedules
        self.stack_name = stack_name
        self.template_path = template_path  # tests deploy a changed copy (e.g. a policy with an action removed)
        self.functions: dict[str, LoadedFunction] = {}
        self.stack: DeployedStack | None = None
        self.invocations: list[Invocation] = []
        self.observers: list[Callable[[Invocation], None]] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._executors: list[ThreadPoolExecutor] = []
        self._moto: subprocess.Popen[bytes] | None = None
        self._http: ThreadingHTTPServer | None = None
        self._inv_lock = threading.Lock()
        self._busy = 0
        self._busy_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    @property
    def webhook_url(self) -> str:
        return f"http://{self.host}:{self.webhook_port}/"

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalRuntime:
        self._moto, self.aws_port = start_moto(self.host, self.aws_port)
        os.environ.update({
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        })
        os.environ.pop("AWS_PROFILE", None)
        _reset_process_caches()
        self._put_secrets()
        self.stack = deploy_stack(self.endpoint_url, self.stack_name, REGION, self.parameters, self.template_path)
        self._scale_visibility()
        install_function_identity()
        self._load_functions()
        if self._start_pollers:
            for fn in self.functions.values():
                for src in fn.spec.sqs:
                    self._start_poller(fn, src)
        if self._start_schedules:
            for fn in self.functions.values():
                for sch in fn.spec.schedules:
                    if sch.enabled:
                        self._start_schedule(fn, rate_seconds(sch.expression) * self.schedule_scale)
        if any(fn.spec.has_url for fn in self.functions.values()):
            self._start_http()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        for t in self._threads:
            t.join(timeout=self.poll_wait_s + 5)
        for ex in self._executors:
            ex.shutdown(wait=True, cancel_futures=True)
        if self._moto is not None:
            stop_moto(self._moto)
            self._moto = None

    def boto(self, service: str, role: FunctionRole | None = None, poller: bool = False) -> Any:
        """A client of the local world's root, or (``role``) one that signs as a function's execution role.
        ``poller``: an event source mapping's own client, marked in its user agent so that the benchmark's meter
        counts its requests apart from the function's (``amsync_local.metering``)."""
        if role is not None:
            c = role.credentials
            return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION,
                                aws_access_key_id=c.access_key, aws_secret_access_key=c.secret_key,
                                aws_session_token=c.token,
                                config=Config(user_agent_extra=POLLER_AGENT) if poller else None)
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def _put_secrets(self) -> None:
        sm = self.boto("secretsmanager")
        for name, value in self.secrets.items():
            try:
                sm.create_secret(Name=name, SecretString=value)
            except sm.exceptions.ResourceExistsException:  # moto's state is per process, shared by runtimes
                sm.put_secret_value(SecretId=name, SecretString=value)

    def _scale_visibility(self) -> None:
        """Shrink every queue's visibility timeout by ``visibility_scale`` (tests and demos cannot wait minutes)."""
        if self.visibility_scale == 1.0:
            return
        assert self.stack is not None
        sqs = self.boto("sqs")
        for lid, res in self.stack.transformed["Resources"].items():
            if res["Type"] == "AWS::SQS::Queue":
                declared = int(res["Properties"].get("VisibilityTimeout", 30))
                sqs.set_queue_attributes(QueueUrl=self.stack.physical_ids[lid], Attributes={
                    "VisibilityTimeout": str(max(1, round(declared * self.visibility_scale)))})

    # ------------------------------------------------------------------ functions
    def _load_functions(self) -> None:
        assert self.stack is not None
        specs = function_specs(load_sam_template(self.template_path))
        roles = assume_function_roles(self.boto("sts"), self.boto("lambda"),
                                      {lid: self.stack.physical_ids[lid] for lid in specs})
        for lid, spec in specs.items():
            name = self.stack.physical_ids[lid]
            env = {k: str(v) for k, v in self.stack.function_env.get(lid, {}).items()}
            env.update({
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            })
            module_file, _, attr = spec.handler.rpartition(".")
            path = PROJECT_ROOT / spec.code_uri / f"{module_file.replace('.', '/')}.py"
            fn = LoadedFunction(spec, name, env, path, attr)
            fn.role = roles[lid]
            fn.timeout_s = spec.timeout * self.timeout_scale
            fn.prewarm(max(1, sum(src.maximum_concurrency or 5 for src in spec.sqs)))
            self.functions[lid] = fn

    def invoke(self, function: str, event: Any, source: str = "direct") -> Any:
        """Invoke a function by logical id, recording the invocation like the event sources do."""
        fn = self.functions[function]
        t0, c0 = time.perf_counter(), time.thread_time()
        error, result = None, None
        try:
            result = fn.invoke(event)
            return result
        except Exception as exc:
            error = "".join(traceback.format_exception_only(exc)).strip()
            raise
        finally:
            self._record(Invocation(function, source, 1, [], error, t0, (time.perf_counter() - t0) * 1000,
                                    (time.thread_time() - c0) * 1000))

    def _record(self, inv: Invocation) -> None:
        with self._inv_lock:
            self.invocations.append(inv)
        for obs in list(self.observers):
            with contextlib.suppress(Exception):
                obs(inv)

    # ------------------------------------------------------------------ SQS
    def _start_poller(self, fn: LoadedFunction, src: SqsSource) -> None:
        assert self.stack is not None
        queue_url = self.stack.physical_ids[src.queue]
        # an event source mapping polls with the function's execution role
        sqs = self.boto("sqs", fn.role, poller=True)
        attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        queue_arn = attrs["Attributes"]["QueueArn"]
        concurrency = src.maximum_concurrency or 5
        executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"{fn.spec.logical_id}-inv")
        self._executors.append(executor)
        slots = threading.Semaphore(concurrency)
        # one client for the mapping's deletes (boto3 clients are thread safe): one made per batch cost about a
        # tenth of the local runtime's CPU in the chaos run
        deleter = self.boto("sqs", fn.role, poller=True)

        def run_batch(messages: list[dict[str, Any]]) -> None:
            try:
                self._invoke_sqs(fn, src, queue_url, queue_arn, messages, deleter)
            finally:
                slots.release()
                with self._busy_lock:
                    self._busy -= 1

        def loop() -> None:
            client = self.boto("sqs", fn.role, poller=True)
            while not self._stop.is_set():
                if not slots.acquire(timeout=0.2):
                    continue
                try:
                    batch = self._receive_batch(client, queue_url, src)
                except Exception:  # moto going away at shutdown
                    slots.release()
                    if self._stop.wait(0.5):
                        return
                    continue
                if not batch:
                    slots.release()
                    continue
                with self._busy_lock:
                    self._busy += 1
                executor.submit(run_batch, batch)

        t = threading.Thread(target=loop, name=f"poll-{src.queue}", daemon=True)
        t.start()
        self._threads.append(t)

    def _receive_batch(self, client: Any, queue_url: str, src: SqsSource) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        # the batching window is scaled like the visibility timeout it must stay well inside
        deadline = time.monotonic() + src.batching_window_s * min(1.0, self.visibility_scale)
        while len(batch) < src.batch_size and not self._stop.is_set():
            wait = self.poll_wait_s if not batch else max(0, min(self.poll_wait_s, int(deadline - time.monotonic())))
            resp = client.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(10, src.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            got = resp.get("Messages", [])
            batch.extend(got)
            if not got or time.monotonic() >= deadline:
                break
        return batch

    def _invoke_sqs(
        self, fn: LoadedFunction, src: SqsSource, queue_url: str, queue_arn: str, messages: list[dict[str, Any]],
        client: Any,
    ) -> None:
        event = {"Records": [sqs_record(m, queue_arn, REGION) for m in messages]}
        ids = [m["MessageId"] for m in messages]
        t0, c0 = time.perf_counter(), time.thread_time()
        error: str | None = None
        failed: set[str] = set()
        try:
            result = fn.invoke(event)
            if src.report_batch_item_failures and isinstance(result, dict):
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
                unknown = failed - set(ids)
                if unknown:  # Lambda treats an unknown identifier as a failure of the whole batch
                    failed = set(ids)
        except Exception as exc:
            error = "".join(traceback.format_exception_only(exc)).strip()
            failed = set(ids)
        cpu_ms = (time.thread_time() - c0) * 1000
        duration = (time.perf_counter() - t0) * 1000
        done = [m for m in messages if m["MessageId"] not in failed]
        for i in range(0, len(done), 10):
            chunk = done[i:i + 10]
            client.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)])
        self._record(Invocation(fn.spec.logical_id, src.queue, len(messages), sorted(failed), error, t0, duration,
                                cpu_ms, ids, [m["Body"] for m in messages]))

    # ------------------------------------------------------------------ schedules
    def _start_schedule(self, fn: LoadedFunction, every_s: float) -> None:
        assert self.stack is not None
        rule = next((lid for lid, r in self.stack.transformed["Resources"].items()
                     if r["Type"] == "AWS::Events::Rule" and lid.startswith(fn.spec.logical_id)), fn.spec.logical_id)
        rule_arn = f"arn:aws:events:{REGION}:123456789012:rule/{self.stack.physical_ids.get(rule, rule)}"

        def loop() -> None:
            while not self._stop.wait(every_s):
                with contextlib.suppress(Exception):  # a failed run is recorded; the schedule goes on
                    self.invoke(fn.spec.logical_id, scheduled_event(rule_arn, REGION), source="schedule")

        t = threading.Thread(target=loop, name=f"schedule-{fn.spec.logical_id}", daemon=True)
        t.start()
        self._threads.append(t)

    def fire_schedule(self, function: str) -> Any:
        """Fire a function's schedule now (what the CLI and tests use instead of waiting)."""
        return self.invoke(function, scheduled_event(f"arn:aws:events:{REGION}:123456789012:rule/manual", REGION),
                           source="schedule")

    # ------------------------------------------------------------------ Function URL
    def _start_http(self) -> None:
        url_fn = next(fn for fn in self.functions.values() if fn.spec.has_url)
        runtime = self
        url_id = uuid.uuid4().hex[:32]
        # The function's reserved concurrency, as deployed (template parameter): Lambda runs at most that many
        # invocations at once and refuses the rest; a Function URL answers those 429.
        reserved = self.boto("lambda").get_function_concurrency(FunctionName=url_fn.name).get(
            "ReservedConcurrentExecutions")
        slots = threading.BoundedSemaphore(int(reserved)) if reserved is not None else None

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY: the headers and the body are two writes; with Nagle on, the body of each answer on a
            # kept-alive connection waited ~40 ms for the client's delayed ACK (a Function URL answers at once)
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_URL_BODY:
                    self.rfile.read(length)
                    self._reply(413, {"content-type": "application/json"}, b'{"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}')  # noqa: E501
                    return
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                event = function_url_event(self.command, path, query, dict(self.headers.items()), body,
                                           self.client_address[0], url_id, REGION)
                if slots is not None and not slots.acquire(blocking=False):
                    self._reply(429, {"content-type": "application/json"}, b'{"Message":"Rate Exceeded."}')
                    return
                try:
                    result = runtime.invoke(url_fn.spec.logical_id, event, source="url")
                except Exception:
                    self._reply(502, {"content-type": "application/json"}, b'{"Message":"Internal Server Error"}')
                    return
                finally:
                    if slots is not None:
                        slots.release()
                status, headers, payload = _url_response(result)
                self._reply(status, headers, payload)

            def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_GET = do_PUT = do_DELETE = _serve

        self._http = ThreadingHTTPServer((self.host, self.webhook_port), Handler)
        self.webhook_port = int(self._http.server_address[1])
        self._http.daemon_threads = True
        t = threading.Thread(target=self._http.serve_forever, name="function-url", daemon=True)
        t.start()
        self._threads.append(t)

    # ------------------------------------------------------------------ waiting
    def queue_depths(self, include_dlq: bool = True) -> dict[str, dict[str, int]]:
        """Visible and in-flight messages per queue of the stack (logical id)."""
        assert self.stack is not None
        sqs = self.boto("sqs")
        out: dict[str, dict[str, int]] = {}
        for lid, res in self.stack.transformed["Resources"].items():
            if res["Type"] != "AWS::SQS::Queue" or (not include_dlq and "DLQ" in lid):
                continue
            a = sqs.get_queue_attributes(QueueUrl=self.stack.physical_ids[lid], AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            out[lid] = {"visible": int(a["ApproximateNumberOfMessages"]),
                        "in_flight": int(a["ApproximateNumberOfMessagesNotVisible"])}
        return out

    def wait_idle(self, timeout: float = 30.0, settle: float = 0.3, include_dlq: bool = False) -> bool:
        """Wait until every (non-DLQ) queue is empty and no invocation runs, stable for ``settle`` seconds.
        While an invocation runs the queues are not asked (each look is a call per queue to moto)."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            with self._busy_lock:
                busy = self._busy > 0
            if not busy:
                depths = self.queue_depths(include_dlq)
                busy = any(v["visible"] or v["in_flight"] for v in depths.values())
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= settle:
                return True
            time.sleep(0.1 if quiet_since is not None else 0.2)
        return False


def start_moto(host: str, port: int = 0, timeout: float = 30.0) -> tuple[subprocess.Popen[bytes], int]:
    """moto's server in a process of its own (``amsync_local.moto_server``: with its SQS made safe under
    concurrent requests): AWS's side of the work runs beside the functions, not under their interpreter lock.
    Port 0: the server binds any free port itself and says which (no window for another process to take it).
    Returns the process and its port."""
    with tempfile.TemporaryDirectory(prefix="amsync-moto-") as tmp:
        port_file = os.path.join(tmp, "port")
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "amsync_local.moto_server", host, str(port), port_file],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        atexit.register(stop_moto, proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"moto server exited at start (code {proc.returncode}; port {port or 'any'})")
            if os.path.exists(port_file):
                with open(port_file) as f:
                    bound = int(f.read())
                with socket.create_connection((host, bound), timeout=1):
                    return proc, bound
            time.sleep(0.05)
    stop_moto(proc)
    raise RuntimeError(f"moto server did not listen on {host}:{port or 'any port'} within {timeout:.0f}s")


def stop_moto(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _reset_process_caches() -> None:
    """Code loaded in this process caches AWS clients and secrets (per container on Lambda). A new runtime has a
    new moto endpoint and new secrets: start those caches afresh."""
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS

    parameters.clear_caches()
    DEFAULT_PROVIDERS.clear()  # providers hold a boto3 client bound to the old endpoint
    try:
        from amsync.data import aws
        from amsync.services import order_sync
    except ImportError:  # a runtime for another package
        return
    aws.client.cache_clear()
    aws.table.cache_clear()
    order_sync.clear_caches()


def _url_response(result: Any) -> tuple[int, dict[str, str], bytes]:
    """Turn a handler's return value into an HTTP answer the way Function URLs do."""
    if isinstance(result, dict) and "statusCode" in result:
        headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        body = result.get("body") or ""
        if result.get("isBase64Encoded"):
            import base64

            payload = base64.b64decode(body)
        else:
            payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        return int(result["statusCode"]), headers, payload
    return 200, {"content-type": "application/json"}, json.dumps(result).encode()
