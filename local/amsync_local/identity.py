"""Each function's AWS calls signed as the function's own role, as Lambda gives a function its execution role.

On Lambda a function's code finds its role's temporary credentials in its environment; every AWS call it makes is
authorised against that role's policies. The local runtime runs every function's containers in one process, in
threads, so the role cannot come from the process environment. Instead:

- at start, the runtime assumes each function's role (created by CloudFormation from template.yaml) through
  moto's STS, getting credentials of that role (:func:`assume_function_roles`);
- while a container initialises or runs an invocation, its thread *acts as* the function (:func:`acting_as`);
- every botocore client created in this process from the default credential chain signs each request with the
  credentials of the function its thread acts as (:func:`install`); the moto server's IAM gate then allows or
  refuses the call with the role's policies (``amsync_local.moto_server``, repair 7);
- Powertools Parameters caches (secrets) are kept per container, as on Lambda, so one function's cached secret
  never spares another function the call its role may not make.

A thread that acts as no function signs with the local world's root key (the harness and tests reading state).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.credentials import Credentials, ReadOnlyCredentials

_current = threading.local()
_installed = False
_install_lock = threading.Lock()


@dataclass(frozen=True)
class FunctionRole:
    """A function's execution role and the credentials it signs with."""

    function: str  # logical id
    role_arn: str
    credentials: ReadOnlyCredentials


@dataclass(frozen=True)
class Acting:
    role: FunctionRole
    container: str  # the container's own key: its Parameters cache


def current() -> Acting | None:
    acting: Acting | None = getattr(_current, "acting", None)
    return acting


@contextlib.contextmanager
def acting_as(role: FunctionRole | None, container: str) -> Iterator[None]:
    """Calls made by this thread meanwhile are the function's (nested: the innermost wins)."""
    previous = current()
    _current.acting = Acting(role, container) if role is not None else None
    try:
        yield
    finally:
        _current.acting = previous


class _ActingCredentials(Credentials):
    """What a client resolved from the default chain: signs as the function the calling thread acts as."""

    def __init__(self, fallback: Credentials) -> None:
        super().__init__(fallback.access_key, fallback.secret_key, fallback.token)
        self._fallback = fallback

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        acting = current()
        if acting is not None:
            return acting.role.credentials
        frozen: ReadOnlyCredentials = self._fallback.get_frozen_credentials()
        return frozen


class _PerContainerProviders(dict[str, Any]):
    """Powertools' module-level provider registry (and so its value cache), one per container."""

    @staticmethod
    def _scoped(key: str) -> str:
        acting = current()
        return f"{acting.container}\x00{key}" if acting is not None else key

    def __contains__(self, key: object) -> bool:
        return super().__contains__(self._scoped(str(key)))

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__(self._scoped(key))

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(self._scoped(key), value)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(self._scoped(key), default)


def install() -> None:
    """Patch this process's botocore sessions and Powertools' provider registry (once)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        import botocore.session
        from aws_lambda_powertools.utilities import parameters as params_pkg
        from aws_lambda_powertools.utilities.parameters import appconfig, base, constants, secrets, ssm

        original = botocore.session.Session.get_credentials

        def get_credentials(self: Any) -> Any:
            creds = original(self)
            return None if creds is None else _ActingCredentials(creds)

        botocore.session.Session.get_credentials = get_credentials  # type: ignore[method-assign]
        registry = _PerContainerProviders(constants.DEFAULT_PROVIDERS)
        for module in (constants, base, secrets, ssm, appconfig, params_pkg):
            if hasattr(module, "DEFAULT_PROVIDERS"):
                module.DEFAULT_PROVIDERS = registry
        with contextlib.suppress(ImportError):
            from aws_lambda_powertools.utilities.parameters import dynamodb

            dynamodb.DEFAULT_PROVIDERS = registry  # type: ignore[attr-defined]
        _installed = True


def assume_function_roles(sts: Any, lam: Any, functions: dict[str, str]) -> dict[str, FunctionRole]:
    """Credentials of each function's execution role (``functions``: logical id -> physical function name),
    assumed through STS with the clients given (the local world's root)."""
    roles: dict[str, FunctionRole] = {}
    for logical_id, name in functions.items():
        role_arn = lam.get_function_configuration(FunctionName=name)["Role"]
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=name[:64])["Credentials"]
        roles[logical_id] = FunctionRole(logical_id, role_arn, ReadOnlyCredentials(
            creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]))
    return roles
