"""Demo data for a first look: one user per role and a few hundred varied issues.

Everything is written through the services, so the timeline, versions and
resolved_at are exactly what real use produces. Running it again changes nothing.
"""

import random

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Role, User
from issues import notifications, services
from issues.models import Issue, Label, Severity, Status

DEMO_USERS = [
    ("admin@example.com", "Ada Admin", Role.ADMIN, "demo-admin"),
    ("maintainer@example.com", "Max Maintainer", Role.MAINTAINER, "demo-maintainer"),
    ("maintainer2@example.com", "Mia Maintainer", Role.MAINTAINER, "demo-maintainer"),
    ("reporter@example.com", "Rita Reporter", Role.REPORTER, "demo-reporter"),
    ("reporter2@example.com", "Rob Reporter", Role.REPORTER, "demo-reporter"),
]

DEMO_LABELS = [
    ("bug", "#d73a4a"),
    ("feature", "#0e8a16"),
    ("ui", "#1d76db"),
    ("api", "#5319e7"),
    ("performance", "#fbca04"),
    ("docs", "#0075ca"),
    ("security", "#b60205"),
    ("good first issue", "#7057ff"),
]

SUBJECTS = [
    "Login page",
    "Issue list",
    "CSV import",
    "Search",
    "Dashboard",
    "API token",
    "Board view",
    "Attachment upload",
    "Email notification",
    "Label picker",
    "Comment thread",
    "Markdown preview",
    "Password reset",
    "Bulk status",
]
PROBLEMS = [
    "crashes when the title is empty",
    "is slow with many issues",
    "shows the wrong time zone",
    "loses the filter after reload",
    "needs keyboard shortcuts",
    "should support dark mode",
    "returns 500 on malformed input",
    "is hard to use on a phone",
    "ignores the severity filter",
    "could show a progress bar",
]
STEPS = "1. Open the page\n2. Do the thing\n3. Observe the problem\n\n**Expected:** it works."
COMMENTS = [
    "I can reproduce this on the latest version.",
    "Looking into it.",
    "Is there a workaround for now?",
    "Fixed in the next release, please verify.",
    "This also happens in Firefox.",
    "Could you attach a screenshot?",
]

# How far along the workflow each demo issue gets.
PATHS = [
    [],
    [Status.TRIAGED],
    [Status.TRIAGED, Status.IN_PROGRESS],
    [Status.TRIAGED, Status.IN_PROGRESS, Status.DONE],
    [Status.DONE],
    [Status.DONE, Status.OPEN],
]


class Command(BaseCommand):
    help = "Load demo users, labels and issues (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--issues", type=int, default=300, help="how many issues")

    def handle(self, *args, issues: int, **options):
        if User.objects.filter(email=DEMO_USERS[0][0]).exists():
            self.stdout.write("Demo data already present.")
        else:
            # One digest per demo user rather than a mail per seeded change.
            with notifications.collected():
                self._seed(issues)
        self.stdout.write("Demo logins (email / password):")
        for email, _name, role, password in DEMO_USERS:
            self.stdout.write(f"  {role:<10} {email:<26} {password}")

    @transaction.atomic
    def _seed(self, count: int) -> None:
        rng = random.Random(42)  # the same demo on every machine
        users = {}
        for email, name, role, password in DEMO_USERS:
            users[email] = User.objects.create_user(email, password, display_name=name, role=role)
        admin = users["admin@example.com"]
        for name, colour in DEMO_LABELS:
            if not Label.objects.filter(name__iexact=name).exists():
                services.create_label(actor=admin, name=name, colour=colour)
        people = list(users.values())
        maintainers = [u for u in people if u.role != Role.REPORTER]
        label_names = [name for name, _ in DEMO_LABELS]

        for _ in range(count):
            reporter = rng.choice(people)
            issue = services.create_issue(
                actor=reporter,
                title=f"{rng.choice(SUBJECTS)} {rng.choice(PROBLEMS)}",
                description=STEPS,
                severity=rng.choice(Severity.values),
            )
            triager = rng.choice(maintainers)
            if rng.random() < 0.7:
                issue = services.replace_labels(
                    actor=triager, issue=issue, labels=rng.sample(label_names, rng.randint(1, 3))
                )
            if rng.random() < 0.6:
                issue = services.assign(
                    actor=triager,
                    issue=issue,
                    version=issue.version,
                    assignee=rng.choice(maintainers),
                )
            for status in rng.choice(PATHS):
                issue = services.change_status(
                    actor=triager, issue=issue, version=issue.version, status=status
                )
            parent = None
            for _ in range(rng.randint(0, 3)):
                author = rng.choice([issue.reporter, *maintainers])
                parent = services.add_comment(
                    actor=author,
                    issue=issue,
                    body=rng.choice(COMMENTS),
                    parent=parent if rng.random() < 0.4 else None,
                )
        self.stdout.write(
            self.style.SUCCESS(f"Seeded {len(people)} users and {Issue.objects.count()} issues.")
        )
