"""Run lifecycle: ``created -> running -> completed | cancelled | failed``.

A ``created`` run may also end ``cancelled`` (cancelled before its worker started) or ``failed``
(its worker never started, or the server restarted underneath it).
"""

from __future__ import annotations

STATUSES = ("created", "running", "completed", "cancelled", "failed")
ACTIVE = frozenset({"created", "running"})
TERMINAL = frozenset({"completed", "cancelled", "failed"})

_ALLOWED = {
    "created": {"running", "cancelled", "failed"},
    "running": {"completed", "cancelled", "failed"},
}


class InvalidTransition(Exception):
    def __init__(self, current: str, new: str):
        self.current, self.new = current, new
        super().__init__(f"a run that is {current!r} cannot become {new!r}")


def check_transition(current: str, new: str) -> None:
    if new not in _ALLOWED.get(current, set()):
        raise InvalidTransition(current, new)
