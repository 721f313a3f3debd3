"""`manage.py backup`: a custom-format pg_dump of the configured database plus a
tar.gz of MEDIA_ROOT, both in BACKUP_DIR and named by the UTC time they were
taken. `manage.py backup --list` shows the backups there."""

from __future__ import annotations

import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tracker.management.maintenance import (
    DUMP_SUFFIX,
    MEDIA_SUFFIX,
    backup_dir,
    pg_env,
    pg_tool,
)


def media_path_for(dump: Path) -> Path:
    return dump.with_name(dump.name.removesuffix(DUMP_SUFFIX) + MEDIA_SUFFIX)


def _new_stem(directory: Path, prefix: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    stem, n = f"{prefix}{stamp}", 1
    while (directory / f"{stem}{DUMP_SUFFIX}").exists() or (
        directory / f"{stem}{MEDIA_SUFFIX}"
    ).exists():
        n += 1
        stem = f"{prefix}{stamp}-{n}"
    return stem


def make_backup(prefix: str = "tracker-") -> tuple[Path, Path]:
    """Write `<prefix><UTC time>.dump` and `.media.tar.gz`; return their paths."""
    directory = backup_dir()
    directory.mkdir(parents=True, exist_ok=True)
    stem = _new_stem(directory, prefix)
    dump = directory / f"{stem}{DUMP_SUFFIX}"
    media = directory / f"{stem}{MEDIA_SUFFIX}"
    partial = dump.with_name(dump.name + ".part")
    result = subprocess.run(
        [pg_tool("pg_dump"), "--format=custom", "--no-password", f"--file={partial}"],
        env=pg_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise CommandError(f"pg_dump failed: {result.stderr.strip()}")
    partial.rename(dump)

    media_root = Path(settings.MEDIA_ROOT)
    with tarfile.open(media, "w:gz") as tar:
        if media_root.is_dir():
            for entry in sorted(media_root.iterdir()):
                tar.add(entry, arcname=entry.name)
    return dump, media


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


class Command(BaseCommand):
    help = "Back up the database (pg_dump, custom format) and the media files into BACKUP_DIR."

    def add_arguments(self, parser):
        parser.add_argument(
            "--list", action="store_true", help="List the backups in BACKUP_DIR instead."
        )

    def handle(self, *args, **options):
        if options["list"]:
            self.list_backups()
            return
        dump, media = make_backup()
        self.stdout.write(f"Database: {dump} ({_size(dump.stat().st_size)})")
        self.stdout.write(f"Media:    {media} ({_size(media.stat().st_size)})")
        self.stdout.write(self.style.SUCCESS("Backup complete."))

    def list_backups(self):
        directory = backup_dir()
        dumps = sorted(directory.glob(f"*{DUMP_SUFFIX}")) if directory.is_dir() else []
        if not dumps:
            self.stdout.write(f"No backups in {directory}.")
            return
        self.stdout.write(f"Backups in {directory}:")
        for dump in dumps:
            stat = dump.stat()
            taken = datetime.fromtimestamp(stat.st_mtime, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            media = media_path_for(dump)
            media_size = _size(media.stat().st_size) if media.exists() else "missing"
            self.stdout.write(
                f"  {dump.name}  {taken}  database {_size(stat.st_size)}, media {media_size}"
            )
