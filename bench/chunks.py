"""The rows of one chunk of issues of the benchmark dataset, as COPY text.

Pure Python without Django, so that worker processes (started with `spawn`)
generate chunks in parallel while the main process streams finished chunks into
PostgreSQL. Chunk `c` holds issue numbers c*chunk_size+1 ... and depends only on
(seed, c): the dataset is the same whatever the number of workers.

What one issue becomes, as the services would have written it:

- the issue row: created over three years (more recently, more issues), version
  = 1 + its writes, resolved_at set exactly while DONE, updated_at = its last
  write or comment;
- a CREATED event (status OPEN, no labels, no assignee: a report), then the
  writes of its workflow, each one event per changed field carrying the new
  version in data.version: a triage (status TRIAGED and/or assignee and labels),
  work started (IN_PROGRESS), done (DONE; a few are reopened and done again);
- its labels (0-4, popular ones more often), comments (2 on average, some
  replies, each with a COMMENT_ADDED event), and the reporter and the assignee
  as watchers;
- its status history as +1/-1 steps per day, from which the main process builds
  DailyStat (the state at the end of each UTC day, like reports.backfill).
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bench import vocabulary as v

DAY = 86400.0
NULL = "\\N"  # COPY text format
STATUSES = ("OPEN", "TRIAGED", "IN_PROGRESS", "DONE")
SEVERITY_NAMES = {1: "LOW", 2: "MEDIUM", 3: "HIGH", 4: "CRITICAL"}
SEVERITY_CUM = list(itertools.accumulate((25, 45, 22, 8)))
LABEL_COUNT_CUM = list(itertools.accumulate((15, 40, 25, 13, 7)))  # 0..4 labels
# Comments per issue: a Poisson(2) draw, capped (the cap keeps the mean ~2).
COMMENT_MEAN = 2.0
COMMENT_CAP = 12
# Resolution time: log-normal, median two days with a long tail; some issues are
# never resolved at all. Together about 15 % of issues are not DONE.
LATENCY_MEDIAN = 2 * DAY
LATENCY_SIGMA = 1.8
ABANDONED = 0.14
GROWTH = 2.0  # issues per day at the end of the period / at its start - 1

# Tables and the columns each chunk writes, in COPY order.
ISSUE_COLUMNS = (
    "id",
    "number",
    "title",
    "description",
    "status",
    "severity",
    "reporter_id",
    "assignee_id",
    "version",
    "created_at",
    "updated_at",
    "resolved_at",
)
COPY_COLUMNS = {
    "issues_issue": ISSUE_COLUMNS,
    "issues_issue_labels": ("issue_id", "label_id", "status"),
    "issues_comment": (
        "id",
        "issue_id",
        "author_id",
        "parent_id",
        "body",
        "created_at",
        "edited_at",
    ),
    "issues_issueevent": (
        "issue_id",
        "actor_id",
        "kind",
        "field",
        "old_value",
        "new_value",
        "data",
        "created_at",
    ),
    "issues_watch": ("user_id", "issue_id", "created_at"),
}


@dataclass(frozen=True)
class Person:
    id: int
    role: str
    name: str  # as the timeline shows them (accounts.User.name)
    active: bool = True


@dataclass
class World:
    """Everything a chunk needs besides its number; identical in every process."""

    seed: int
    scale: int
    chunk_size: int
    start: float  # epoch seconds: the first issue is created after this
    now: float  # and the last one before this
    people: list[Person]
    labels: list[tuple[int, str]]
    # Built from the above in prepare():
    reporters: list[int] = field(default_factory=list)
    reporter_cum: list[float] = field(default_factory=list)
    triagers: list[int] = field(default_factory=list)
    triager_cum: list[float] = field(default_factory=list)
    label_cum: list[float] = field(default_factory=list)
    refs: dict[int, str] = field(default_factory=dict)
    plain: list[str] = field(default_factory=list)
    common: list[str] = field(default_factory=list)

    def prepare(self) -> World:
        by_id = {p.id: p for p in self.people}
        # Reporters: everyone, people with the REPORTER role filing most; a few
        # prolific ones (weights fall with rank).
        self.reporters = [p.id for p in self.people]
        weights = [
            (3.0 if by_id[i].role == "REPORTER" else 1.0) / (1 + rank % 50) ** 0.5
            for rank, i in enumerate(self.reporters)
        ]
        self.reporter_cum = list(itertools.accumulate(weights))
        # Assignees and triagers: the active maintainers and admins.
        self.triagers = [p.id for p in self.people if p.role != "REPORTER" and p.active]
        self.triager_cum = list(
            itertools.accumulate(1 / (1 + rank) ** 0.6 for rank in range(len(self.triagers)))
        )
        self.label_cum = list(
            itertools.accumulate(1 / (1 + rank) ** 0.9 for rank in range(len(self.labels)))
        )
        self.refs = {
            p.id: json.dumps({"id": p.id, "name": p.name}, ensure_ascii=False) for p in self.people
        }
        self.plain, self.common = v.sentence_bank(random.Random(self.seed))
        return self

    @property
    def chunks(self) -> int:
        return -(-self.scale // self.chunk_size)

    def chunk_range(self, chunk: int) -> range:
        first = chunk * self.chunk_size
        return range(first, min(self.scale, first + self.chunk_size))


def comment_counts(world: World, chunk: int) -> list[int]:
    """Comments of each issue of the chunk: drawn from their own random stream so
    that the main process can number comments before the chunks are generated."""
    rng = random.Random(f"{world.seed}:comments:{chunk}")
    limit = math.exp(-COMMENT_MEAN)
    counts = []
    for _ in world.chunk_range(chunk):
        k, p = 0, rng.random()
        while p > limit and k < COMMENT_CAP:
            k += 1
            p *= rng.random()
        counts.append(k)
    return counts


_DAYS: dict[int, str] = {}


def _stamp(ts: float) -> str:
    """A UTC timestamp for COPY, microseconds truncated: several times faster than
    datetime.isoformat, which this was half of the generator's time."""
    day, seconds = divmod(ts, DAY)
    day = int(day)
    date = _DAYS.get(day)
    if date is None:
        date = _DAYS[day] = datetime.fromtimestamp(day * DAY, UTC).date().isoformat()
    whole = int(seconds)
    micro = int((seconds - whole) * 1_000_000)
    return f"{date} {whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}.{micro:06d}+00"


def _pick(rng: random.Random, items: list, cum: list[float]):
    return items[bisect.bisect(cum, rng.random() * cum[-1])]


def _created_times(world: World, rng: random.Random, chunk: int) -> list[float]:
    """Sorted creation times of the chunk's issues: quantiles of a density that
    grows linearly over the period (GROWTH), so numbers follow creation order."""
    numbers = world.chunk_range(chunk)
    lo, hi = numbers.start / world.scale, numbers.stop / world.scale
    g, span = GROWTH, world.now - world.start - 3600
    times = []
    for u in sorted(rng.uniform(lo, hi) for _ in numbers):
        t = (-1 + math.sqrt(1 + 2 * g * u * (1 + g / 2))) / g
        times.append(world.start + t * span)
    return times


def _labels_of(world: World, rng: random.Random) -> list[tuple[int, str]]:
    count = bisect.bisect(LABEL_COUNT_CUM, rng.random() * LABEL_COUNT_CUM[-1])
    chosen: dict[int, str] = {}
    while len(chosen) < count:
        label_id, name = _pick(rng, world.labels, world.label_cum)
        chosen[label_id] = name
    return sorted(chosen.items(), key=lambda item: item[1].lower())


def _text(world: World, rng: random.Random, sentences: int) -> str:
    plain, common = world.plain, world.common
    share = v.COMMON_SENTENCE_SHARE
    parts = [
        rng.choice(common) if rng.random() < share else rng.choice(plain) for _ in range(sentences)
    ]
    if sentences > 3 and rng.random() < 0.4:  # Markdown: a list of steps
        return " ".join(parts[:2]) + "\\n\\n- " + "\\n- ".join(parts[2:])
    if sentences > 2:
        return " ".join(parts[:2]) + "\\n\\n" + " ".join(parts[2:])
    return " ".join(parts)


@dataclass
class Chunk:
    """One chunk's COPY text per table, and what the main process aggregates."""

    number: int
    copy: dict[str, bytes]
    counts: dict[str, int]
    # (status, severity) -> {day index: step}; day 0 is the day of world.start.
    steps: dict[tuple[str, int], dict[int, int]]


def generate(world: World, chunk: int, first_comment_id: int) -> Chunk:
    rng = random.Random(f"{world.seed}:issues:{chunk}")
    counts_of_comments = comment_counts(world, chunk)
    issues, links, comments, events, watches = [], [], [], [], []
    counts = dict.fromkeys(STATUSES, 0)
    counts.update(comments=0, events=0, labels=0, watches=0)
    steps: dict[tuple[str, int], dict[int, int]] = {}
    day0 = world.start - world.start % DAY
    now = world.now
    refs = world.refs
    stamp = _stamp
    comment_id = first_comment_id
    mu = math.log(LATENCY_MEDIAN)

    for number, created, n_comments in zip(
        (n + 1 for n in world.chunk_range(chunk)),
        _created_times(world, rng, chunk),
        counts_of_comments,
        strict=True,
    ):
        issue_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        reporter = _pick(rng, world.reporters, world.reporter_cum)
        severity = bisect.bisect(SEVERITY_CUM, rng.random() * SEVERITY_CUM[-1]) + 1
        if rng.random() < v.COMMON_TITLE_SHARE:
            title = f"{rng.choice(v.SUBJECTS)} {rng.choice(v.COMMON_PROBLEMS)}"
        else:
            title = f"{rng.choice(v.SUBJECTS)} {rng.choice(v.PROBLEMS)}"
        description = _text(world, rng, rng.randint(2, 9))
        labels = _labels_of(world, rng)

        # The workflow: where the issue ends up and when each write happened.
        age = now - created
        latency = rng.lognormvariate(mu, LATENCY_SIGMA)
        resolved = rng.random() >= ABANDONED and latency < age
        span = latency if resolved else age * rng.uniform(0.05, 1.0)
        roll = rng.random()
        if resolved:
            path = ("TRIAGED", "IN_PROGRESS", "DONE") if roll < 0.65 else ("DONE",)
        else:
            path = ("TRIAGED", "IN_PROGRESS") if roll < 0.3 else ("TRIAGED",) if roll < 0.55 else ()
        reopened = resolved and len(path) == 3 and rng.random() < 0.03
        assigned = rng.random() < (0.9 if path else 0.3)
        assignee = _pick(rng, world.triagers, world.triager_cum) if assigned else None
        if not path and rng.random() < 0.3:
            labels = []  # a fresh report nobody has looked at yet
        actor = assignee or _pick(rng, world.triagers, world.triager_cum)

        # Writes: (time, [(kind, field, old, new)]); each bumps the version.
        writes: list[tuple[float, list[tuple[str, str, str, str]]]] = []
        status_points = [(created, "OPEN")]
        triage_changes = []
        if path and path[0] == "TRIAGED":
            triage_changes.append(("FIELD_CHANGED", "status", '"OPEN"', '"TRIAGED"'))
        if assignee is not None:
            triage_changes.append(("FIELD_CHANGED", "assignee", "\\N", refs[assignee]))
        if labels:
            names = json.dumps([name for _, name in labels])
            triage_changes.append(("LABELS_CHANGED", "labels", "[]", names))
        t_triage = created + span * rng.uniform(0.02, 0.3)
        if triage_changes:
            writes.append((t_triage, triage_changes))
            if path and path[0] == "TRIAGED":
                status_points.append((t_triage, "TRIAGED"))
        if "IN_PROGRESS" in path:
            t = created + span * rng.uniform(0.35, 0.8)
            writes.append((t, [("FIELD_CHANGED", "status", '"TRIAGED"', '"IN_PROGRESS"')]))
            status_points.append((t, "IN_PROGRESS"))
        resolved_at = None
        if resolved:
            before = '"IN_PROGRESS"' if len(path) == 3 else '"OPEN"'
            if reopened:
                t1, t2 = created + span * 0.85, created + span * 0.9
                writes.append((t1, [("FIELD_CHANGED", "status", before, '"DONE"')]))
                writes.append((t2, [("FIELD_CHANGED", "status", '"DONE"', '"OPEN"')]))
                status_points += [(t1, "DONE"), (t2, "OPEN")]
                before = '"OPEN"'
            resolved_at = created + span
            writes.append((resolved_at, [("FIELD_CHANGED", "status", before, '"DONE"')]))
            status_points.append((resolved_at, "DONE"))
        status = status_points[-1][1]

        # Comments: after the report, until a while after resolution (or now).
        timeline: list[tuple[float, int, str]] = []
        last = writes[-1][0] if writes else created
        if n_comments:
            end = min(now - 60, (resolved_at + span * 0.1) if resolved_at else now - 60)
            times = sorted(rng.uniform(created, end) for _ in range(n_comments))
            authors = (reporter, actor, assignee or actor)
            first_id = comment_id
            for t in times:
                author = (
                    rng.choice(authors)
                    if rng.random() < 0.7
                    else (_pick(rng, world.triagers, world.triager_cum))
                )
                parent = (
                    rng.randrange(first_id, comment_id)
                    if comment_id > first_id and rng.random() < 0.25
                    else None
                )
                edited = stamp(t + rng.uniform(60, 3600)) if rng.random() < 0.05 else "\\N"
                body = _text(world, rng, rng.randint(1, 3))
                comments.append(
                    f"{comment_id}\t{issue_id}\t{author}\t"
                    f"{parent if parent is not None else NULL}\t{body}\t{stamp(t)}\t"
                    f"{edited}\n"
                )
                data = (
                    f'{{"comment": {comment_id}, "parent": {"null" if parent is None else parent}}}'
                )
                timeline.append(
                    (t, 1, f"{issue_id}\t{author}\tCOMMENT_ADDED\t\t\\N\t\\N\t{data}\t{stamp(t)}\n")
                )
                comment_id += 1
            last = max(last, times[-1])
        updated_at = last

        # Events: the report, then writes and comments in time order.
        version = 1
        created_data = json.dumps(
            {
                "title": title,
                "status": "OPEN",
                "severity": SEVERITY_NAMES[severity],
                "labels": [],
                "assignee": None,
            }
        )
        events.append(
            f"{issue_id}\t{reporter}\tCREATED\t\t\\N\t\\N\t{created_data}\t{stamp(created)}\n"
        )
        for t, changes in writes:
            version += 1
            data = f'{{"version": {version}}}'
            when = stamp(t)
            for kind, name, old, new in changes:
                timeline.append(
                    (t, 0, f"{issue_id}\t{actor}\t{kind}\t{name}\t{old}\t{new}\t{data}\t{when}\n")
                )
        timeline.sort(key=lambda item: (item[0], item[1]))
        events.extend(line for _, _, line in timeline)

        issues.append(
            f"{issue_id}\t{number}\t{title}\t{description}\t{status}\t{severity}\t{reporter}\t"
            f"{assignee if assignee is not None else NULL}\t{version}\t{stamp(created)}\t"
            f"{stamp(updated_at)}\t{stamp(resolved_at) if resolved_at else NULL}\n"
        )
        for label_id, _ in labels:
            links.append(f"{issue_id}\t{label_id}\t{status}\n")
        watches.append(f"{reporter}\t{issue_id}\t{stamp(created)}\n")
        if assignee is not None and assignee != reporter:
            watches.append(f"{assignee}\t{issue_id}\t{stamp(t_triage)}\n")

        # Status per day for DailyStat: a state counts on the days it is the
        # state at the end of the day.
        for (start, state), (end, _) in zip(
            status_points, [*status_points[1:], (None, None)], strict=True
        ):
            first_day = int((start - day0) // DAY)
            cell = steps.setdefault((state, severity), {})
            if end is None:
                cell[first_day] = cell.get(first_day, 0) + 1
                continue
            end_day = int((end - day0) // DAY)
            if end_day > first_day:
                cell[first_day] = cell.get(first_day, 0) + 1
                cell[end_day] = cell.get(end_day, 0) - 1
        counts[status] += 1

    counts["comments"] = len(comments)
    counts["events"] = len(events)
    counts["labels"] = len(links)
    counts["watches"] = len(watches)
    counts["issues"] = len(issues)
    text = {
        "issues_issue": issues,
        "issues_issue_labels": links,
        "issues_comment": comments,
        "issues_issueevent": events,
        "issues_watch": watches,
    }
    return Chunk(
        number=chunk,
        copy={table: "".join(lines).encode() for table, lines in text.items()},
        counts=counts,
        steps=steps,
    )


# --- worker processes -------------------------------------------------------------

_WORLD: World | None = None


def init_worker(world: World) -> None:
    global _WORLD
    _WORLD = world.prepare()


def generate_in_worker(task: tuple[int, int]) -> Chunk:
    chunk, first_comment_id = task
    assert _WORLD is not None, "init_worker was not called"
    return generate(_WORLD, chunk, first_comment_id)
