"""`manage.py restore <file> --yes`: put a backup taken by `manage.py backup` back.

A safety backup of the current state is taken first; then pg_restore (--clean
--if-exists --no-owner, in one transaction) replaces the database's contents and
the media archive beside the dump replaces MEDIA_ROOT."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from tracker.management.commands.backup import make_backup, media_path_for
from tracker.management.maintenance import DUMP_SUFFIX, backup_dir, pg_env, pg_tool

logger = logging.getLogger("tracker.maintenance")


def _resolve(name: str) -> Path:
    path = Path(name)
    if not path.exists() and not path.is_absolute():
        path = backup_dir() / name
    if path.name.endswith(".media.tar.gz"):
        path = path.with_name(path.name.removesuffix(".media.tar.gz") + DUMP_SUFFIX)
    if not path.is_file():
        raise CommandError(f"No such backup: {name}")
    return path


def restore_media(archive: Path) -> None:
    """Replace MEDIA_ROOT's contents with the archive's (extracted beside it first,
    so a broken archive leaves the current files alone)."""
    media_root = Path(settings.MEDIA_ROOT)
    media_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=media_root.parent, prefix=".restore-") as tmp:
        staging = Path(tmp)
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(staging, filter="data")
        for entry in list(media_root.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for entry in staging.iterdir():
            shutil.move(str(entry), media_root / entry.name)


class Command(BaseCommand):
    help = "Restore a backup (database and media). Takes a safety backup first."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The .dump file (a path, or a name in BACKUP_DIR).")
        parser.add_argument(
            "--yes",
            action="store_true",
            help="Confirm: the database and media files are replaced by the backup's.",
        )

    def handle(self, *args, **options):
        dump = _resolve(options["file"])
        if not options["yes"]:
            raise CommandError(
                f"Restoring {dump.name} replaces the current database and media files. "
                "Run again with --yes to confirm."
            )
        media = media_path_for(dump)

        safety_dump, safety_media = make_backup(prefix="pre-restore-")
        self.stdout.write(f"Safety backup of the current state: {safety_dump}")
        logger.info("restore: safety backup %s", safety_dump)

        tool = pg_tool("pg_restore")
        env = pg_env()
        # pg_restore drops and recreates our tables: no open connection may hold them.
        connections.close_all()
        result = subprocess.run(
            [
                tool,
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "--exit-on-error",
                "--no-password",
                f"--dbname={env['PGDATABASE']}",
                str(dump),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise CommandError(
                f"pg_restore failed (nothing was changed; safety backup {safety_dump.name}): "
                f"{result.stderr.strip()}"
            )
        self.stdout.write(f"Database restored from {dump}")
        logger.info("restore: database restored from %s", dump)

        if media.exists():
            restore_media(media)
            self.stdout.write(f"Media restored from {media}")
            logger.info("restore: media restored from %s", media)
        else:
            self.stderr.write(f"No media archive {media.name}: media files left as they are.")
        self.stdout.write(self.style.SUCCESS("Restore complete."))
