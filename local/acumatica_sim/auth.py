"""Sessions (cookie and OAuth), licence seats, and the per-minute request throttle.

Model: every cookie login or OAuth grant holds one seat until logout, 10 minutes idle (cookie) or access-token
expiry without refresh (OAuth). A refresh reuses the grant's session (no new seat while it is alive).
Throttle: requests in the last 60 s of simulated time are counted; past 50 % of the quota each new request is
delayed by (remaining window / remaining quota) (scaled by ``delay_scale``); a request arriving while more than
``max_queue`` are already waiting is declined with 429. Logout is never throttled.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from acumatica_sim.clock import Clock
from acumatica_sim.config import Limits


@dataclass
class Session:
    sid: str
    user: str
    kind: str  # "cookie" | "oauth"
    created: datetime
    last_seen: datetime
    expires: datetime | None = None  # OAuth: access-token expiry
    aspxauth: str = ""
    access_token: str = ""
    refresh_token: str | None = None
    refresh_expires: datetime | None = None
    scope: str = ""


@dataclass
class Counters:
    logins: int = 0
    logouts: int = 0
    peak_sessions: int = 0
    requests: int = 0
    throttled_429: int = 0
    delayed: int = 0
    login_limit_rejections: int = 0


class SessionManager:
    """Thread-safe store of sessions and the throttle."""

    def __init__(self, clock: Clock, limits: Limits) -> None:
        self.clock = clock
        self.limits = limits
        self._lock = threading.RLock()
        self.sessions: dict[str, Session] = {}
        self.grants: dict[str, Session] = {}  # refresh_token -> session (possibly closed)
        self.counters = Counters()
        self._window: deque[float] = deque()
        self.queued = 0

    # -- seats ------------------------------------------------------------------------------------------------
    def _alive(self, s: Session, now: datetime) -> bool:
        if s.kind == "cookie":
            return now - s.last_seen < timedelta(seconds=self.limits.session_idle_seconds)
        return s.expires is not None and now < s.expires

    def purge(self) -> None:
        now = self.clock.now()
        with self._lock:
            for sid in [sid for sid, s in self.sessions.items() if not self._alive(s, now)]:
                del self.sessions[sid]

    def active(self) -> int:
        self.purge()
        return len(self.sessions)

    def _seat_available(self) -> bool:
        return self.limits.max_sessions is None or self.active() < self.limits.max_sessions

    def _open(self, s: Session) -> None:
        self.sessions[s.sid] = s
        self.counters.logins += 1
        self.counters.peak_sessions = max(self.counters.peak_sessions, len(self.sessions))

    def login_cookie(self, user: str) -> Session | None:
        """A new cookie session, or None when the seat limit is reached (API Login Limit)."""
        with self._lock:
            if not self._seat_available():
                self.counters.login_limit_rejections += 1
                return None
            now = self.clock.now()
            s = Session(sid=secrets.token_hex(12), user=user, kind="cookie", created=now, last_seen=now,
                        aspxauth=secrets.token_hex(32))
            self._open(s)
            return s

    def grant_token(self, user: str, scope: str) -> Session | None:
        with self._lock:
            if not self._seat_available():
                self.counters.login_limit_rejections += 1
                return None
            now = self.clock.now()
            s = Session(sid=secrets.token_hex(12), user=user, kind="oauth", created=now, last_seen=now, scope=scope)
            self._issue(s, now, with_refresh="offline_access" in scope.split())
            self._open(s)
            return s

    def _issue(self, s: Session, now: datetime, with_refresh: bool) -> None:
        s.access_token = secrets.token_urlsafe(32)
        s.expires = now + timedelta(seconds=self.limits.token_lifetime_seconds)
        if with_refresh:
            if s.refresh_token:
                self.grants.pop(s.refresh_token, None)
            s.refresh_token = secrets.token_urlsafe(32)
            if s.refresh_expires is None:
                s.refresh_expires = now + timedelta(seconds=self.limits.refresh_token_lifetime_seconds)
            self.grants[s.refresh_token] = s

    def refresh(self, token: str) -> tuple[Session | None, str]:
        """(session, error) for grant_type=refresh_token; error is "" on success."""
        with self._lock:
            s = self.grants.get(token)
            now = self.clock.now()
            if s is None or (s.refresh_expires and now >= s.refresh_expires):
                return None, "invalid_grant"
            if s.sid not in self.sessions or not self._alive(s, now):
                self.sessions.pop(s.sid, None)
                if not self._seat_available():
                    self.counters.login_limit_rejections += 1
                    return None, "API Login Limit"
                self._open(s)
            self._issue(s, now, with_refresh=True)
            return s, ""

    def logout(self, s: Session | None) -> None:
        with self._lock:
            if s is not None and self.sessions.pop(s.sid, None) is not None:
                self.counters.logouts += 1
                if s.refresh_token:
                    self.grants.pop(s.refresh_token, None)

    def revoke(self, token: str) -> None:
        with self._lock:
            s = self.grants.get(token) or next((x for x in self.sessions.values() if x.access_token == token), None)
            self.logout(s)

    # -- lookup -----------------------------------------------------------------------------------------------
    def find(self, cookies: dict[str, str], authorization: str | None) -> Session | None:
        now = self.clock.now()
        with self._lock:
            s: Session | None = None
            if authorization and authorization.lower().startswith("bearer "):
                tok = authorization[7:].strip()
                s = next((x for x in self.sessions.values() if x.access_token == tok), None)
            elif cookies.get(".ASPXAUTH"):
                s = next((x for x in self.sessions.values() if x.aspxauth == cookies[".ASPXAUTH"]), None)
            if s is None or not self._alive(s, now):
                if s is not None:
                    self.sessions.pop(s.sid, None)
                return None
            s.last_seen = now
            return s

    # -- throttle ---------------------------------------------------------------------------------------------
    def admit(self) -> float | None:
        """Account one request: seconds to delay it, or None when it must be declined (429)."""
        quota = self.limits.max_requests_per_minute
        with self._lock:
            self.counters.requests += 1
            if quota is None:
                return 0.0
            now = self.clock.now().timestamp()
            while self._window and now - self._window[0] >= 60:
                self._window.popleft()
            used = len(self._window)
            if used < quota / 2:
                self._window.append(now)
                return 0.0
            if self.queued > self.limits.max_queue:
                self.counters.requests -= 1  # declined requests do not count as processed
                self.counters.throttled_429 += 1
                return None
            left = 60 - (now - self._window[0]) if self._window else 60.0
            delay = left / max(quota - used, 1) if used < quota else left
            self._window.append(now)
            self.counters.delayed += 1
            return delay * self.limits.delay_scale

    def snapshot(self) -> dict[str, Any]:
        active = self.active()
        return {**self.counters.__dict__, "active_sessions": active, "queued": self.queued}


@dataclass
class LoginRequest:
    name: str = ""
    password: str = ""
    tenant: str | None = None
    branch: str | None = None
    locale: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
