"""`manage.py cleanup`: delete issues resolved long ago and labels nobody uses.

A dry run unless --apply: it lists what would go. Deletions go through the
services (issues.services.delete_issue / delete_label) as an ADMIN, one
transaction each, and every one is logged (logger "tracker.maintenance")."""

import logging
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Role, User
from issues import services
from issues.models import Issue, Label, Status

logger = logging.getLogger("tracker.maintenance")


class Command(BaseCommand):
    help = "Delete issues resolved more than DAYS ago and/or unused labels (dry run by default)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--resolved-older-than",
            type=int,
            metavar="DAYS",
            help="Issues DONE whose resolved_at is more than DAYS days ago.",
        )
        parser.add_argument(
            "--unused-labels", action="store_true", help="Labels that no issue carries."
        )
        parser.add_argument("--apply", action="store_true", help="Delete (default: dry run).")
        parser.add_argument(
            "--actor",
            metavar="EMAIL",
            help="The active ADMIN the deletions are made as (default: the first one).",
        )

    def handle(self, *args, **options):
        days = options["resolved_older_than"]
        if days is None and not options["unused_labels"]:
            raise CommandError(
                "Say what to clean: --resolved-older-than DAYS and/or --unused-labels."
            )
        if days is not None and days < 0:
            raise CommandError("--resolved-older-than must be 0 or more days.")
        apply = options["apply"]
        actor = self.actor(options["actor"]) if apply else None
        verb = "Deleted" if apply else "Would delete"

        if days is not None:
            cutoff = timezone.now() - timedelta(days=days)
            issues = Issue.objects.filter(status=Status.DONE, resolved_at__lt=cutoff).order_by(
                "number"
            )
            count = 0
            for issue in list(issues):
                resolved = f"{issue.resolved_at:%Y-%m-%d}"
                line = f"issue #{issue.number} {issue.title!r} (resolved {resolved})"
                if apply:
                    services.delete_issue(actor=actor, issue=issue)
                    logger.info("cleanup: deleted %s", line)
                self.stdout.write(f"{verb} {line}")
                count += 1
            logger.info(
                "cleanup: %s %d issue(s) resolved more than %d day(s) ago",
                verb.lower(),
                count,
                days,
            )
            self.stdout.write(f"{verb} {count} issue(s) resolved more than {days} day(s) ago.")

        if options["unused_labels"]:
            labels = Label.objects.filter(issues__isnull=True).order_by("name")
            count = 0
            for label in list(labels):
                if apply:
                    services.delete_label(actor=actor, label=label)
                    logger.info("cleanup: deleted label %r", label.name)
                self.stdout.write(f"{verb} label {label.name!r}")
                count += 1
            logger.info("cleanup: %s %d unused label(s)", verb.lower(), count)
            self.stdout.write(f"{verb} {count} unused label(s).")

        if not apply:
            self.stdout.write("Dry run: nothing was deleted. Run again with --apply to delete.")

    def actor(self, email):
        admins = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("pk")
        if email:
            admins = admins.filter(email__iexact=email)
        user = admins.first()
        if user is None:
            raise CommandError(
                f"No active ADMIN {email}." if email else "Deleting needs an active ADMIN user."
            )
        return user
