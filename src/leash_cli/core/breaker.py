"""A circuit breaker per deployment: closed -> open -> half-open -> closed.

Closed: requests pass; consecutive failures are counted and `failure_threshold`
of them open the breaker.  Open: nothing is sent until `recovery_timeout` has
passed; then the breaker is half-open and lets `half_open_requests` trial
requests through.  As many successes close it; one failure opens it again.

Failures are what says the deployment itself is unwell: connect errors,
timeouts, resets and 5xx answers (a 429 is the deployment's quota: it cools the
deployment down instead, see :mod:`leash_cli.core.balance`).  The time is passed
in (``time.monotonic()``), so tests and the balancer share one clock read.
"""

from __future__ import annotations

CLOSED, OPEN, HALF_OPEN = 0, 1, 2
STATE_NAMES = {CLOSED: "closed", OPEN: "open", HALF_OPEN: "half-open"}


class Breaker:
    __slots__ = ("threshold", "recovery", "trials", "state", "failures", "opened_at", "in_trial", "successes", "opened")

    def __init__(self, failure_threshold: int, recovery_timeout: float, half_open_requests: int) -> None:
        self.threshold = failure_threshold
        self.recovery = recovery_timeout
        self.trials = half_open_requests
        self.state = CLOSED
        self.failures = 0  # consecutive, while closed
        self.opened_at = 0.0
        self.in_trial = 0  # trial requests sent while half-open and not yet judged
        self.successes = 0  # trial successes while half-open
        self.opened = 0  # times it opened (for /health)

    @property
    def name(self) -> str:
        return STATE_NAMES[self.state]

    def current(self, now: float) -> int:
        """The state at `now` (an open breaker whose recovery time passed is half-open)."""
        if self.state == OPEN and now - self.opened_at >= self.recovery:
            self.state = HALF_OPEN
            self.in_trial = 0
            self.successes = 0
        return self.state

    def available(self, now: float) -> bool:
        """Would a request be let through at `now`?  (Does not take a trial slot.)"""
        state = self.current(now)
        return state == CLOSED or (state == HALF_OPEN and self.in_trial < self.trials - self.successes)

    def acquire(self, now: float) -> bool:
        """Let one request through (taking a trial slot when half-open); False when it may not go."""
        state = self.current(now)
        if state == CLOSED:
            return True
        if state == HALF_OPEN and self.in_trial < self.trials - self.successes:
            self.in_trial += 1
            return True
        return False

    def retry_in(self, now: float) -> float:
        """Seconds until an open breaker turns half-open (0 when it is not open)."""
        if self.current(now) != OPEN:
            return 0.0
        return max(self.recovery - (now - self.opened_at), 0.0)

    def success(self) -> None:
        if self.state == CLOSED:
            self.failures = 0
        elif self.state == HALF_OPEN:
            self.in_trial = max(self.in_trial - 1, 0)
            self.successes += 1
            if self.successes >= self.trials:
                self.state = CLOSED
                self.failures = 0

    def failure(self, now: float) -> None:
        if self.state == CLOSED:
            self.failures += 1
            if self.failures >= self.threshold:
                self._open(now)
        elif self.state == HALF_OPEN:
            self._open(now)

    def release(self) -> None:
        """A trial request that was neither a success nor a failure (a 429, a client that left)."""
        if self.state == HALF_OPEN and self.in_trial:
            self.in_trial -= 1

    def _open(self, now: float) -> None:
        self.state = OPEN
        self.opened_at = now
        self.failures = 0
        self.in_trial = 0
        self.successes = 0
        self.opened += 1
