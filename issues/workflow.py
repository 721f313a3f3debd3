"""The status workflow: OPEN -> TRIAGED -> IN_PROGRESS -> DONE.

DONE may be reached from anywhere, a DONE issue can be reopened, and work can
step back one stage (a triage undone, work put back in the queue). Skipping
forward past a stage other than to DONE is refused, so that every issue that is
worked on has been triaged.
"""

from issues.models import Status

TRANSITIONS: dict[str, frozenset[str]] = {
    Status.OPEN: frozenset({Status.TRIAGED, Status.DONE}),
    Status.TRIAGED: frozenset({Status.IN_PROGRESS, Status.DONE, Status.OPEN}),
    Status.IN_PROGRESS: frozenset({Status.DONE, Status.TRIAGED}),
    Status.DONE: frozenset({Status.OPEN}),
}


def can_move(current: str, target: str) -> bool:
    return current == target or target in TRANSITIONS[current]


def refusal(current: str, target: str) -> str:
    allowed = ", ".join(Status(s).label for s in Status if s in TRANSITIONS[current])
    return (
        f"Cannot move from {Status(current).label} to {Status(target).label}; allowed: {allowed}."
    )
