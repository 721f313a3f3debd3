"""Helpers shared by the maintenance commands (backup, restore, dbstats, dbhealth,
cleanup, vacuum): which tables are ours, how to reach PostgreSQL's client tools."""

from __future__ import annotations

import glob
import os
import re
import shutil
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection

APP_LABELS = ("accounts", "issues", "reports", "tracker")
DUMP_SUFFIX = ".dump"
MEDIA_SUFFIX = ".media.tar.gz"


def app_models():
    """Every model of our apps, many-to-many tables included, sorted by table."""
    models = []
    for label in APP_LABELS:
        try:
            config = apps.get_app_config(label)
        except LookupError:
            continue
        models.extend(config.get_models(include_auto_created=True))
    return sorted(models, key=lambda m: m._meta.db_table)


def app_tables() -> list[str]:
    return [m._meta.db_table for m in app_models()]


def backup_dir() -> Path:
    return Path(settings.BACKUP_DIR)


def pg_env() -> dict[str, str]:
    """The connection of the default database as libpq environment variables, so
    that no password ever appears on a command line."""
    db = connection.settings_dict
    env = dict(os.environ)
    values = {
        "PGHOST": db.get("HOST") or "",
        "PGPORT": str(db.get("PORT") or ""),
        "PGUSER": db.get("USER") or "",
        "PGPASSWORD": db.get("PASSWORD") or "",
        "PGDATABASE": db.get("NAME") or "",
    }
    for key, value in values.items():
        if value:
            env[key] = value
        else:
            env.pop(key, None)
    return env


def server_major() -> int | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version_num")
            return int(cursor.fetchone()[0]) // 10000
    except Exception:  # fall back to whatever client is on PATH
        return None


def pg_tool(name: str) -> str:
    """The client matching the server's major version (as scripts/devstack.sh finds
    the server: /usr/lib/postgresql/<major>/bin), else the newest installed one
    that is not older than the server, else the one on PATH."""
    major = server_major()
    found = {}
    for path in glob.glob(f"/usr/lib/postgresql/*/bin/{name}"):
        match = re.search(r"/postgresql/(\d+)/bin/", path)
        if match and os.access(path, os.X_OK):
            found[int(match.group(1))] = path
    if major is not None and major in found:
        return found[major]
    newer = sorted(v for v in found if major is None or v >= major)
    if newer:
        return found[newer[-1]]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise CommandError(f"{name} not found (install the PostgreSQL client tools)")
