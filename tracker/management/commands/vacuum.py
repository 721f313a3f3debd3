"""`manage.py vacuum`: VACUUM ANALYZE the database (outside any transaction)."""

import logging
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

logger = logging.getLogger("tracker.maintenance")


class Command(BaseCommand):
    help = "Run VACUUM ANALYZE on the database."

    def handle(self, *args, **options):
        if connection.in_atomic_block:
            raise CommandError("VACUUM cannot run inside a transaction.")
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        elapsed = time.monotonic() - started
        logger.info("vacuum: VACUUM ANALYZE done in %.1f s", elapsed)
        self.stdout.write(self.style.SUCCESS(f"VACUUM ANALYZE done in {elapsed:.1f} s."))
