"""`python -m bench.import_app FILE EMAIL`: import FILE with the app's importer as
EMAIL, in this process, and print one JSON line: seconds, created, errors,
status, peak_mb (bench/importing.py runs this)."""

import json
import os
import resource
import sys
import time


def main(path: str, email: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings")
    import django

    django.setup()
    from django.core.files import File

    from accounts.models import User
    from issues.importer import start_import

    actor = User.objects.get(email=email)
    with open(path, "rb") as handle:
        began = time.perf_counter()
        job = start_import(
            actor=actor, upload=File(handle, name="bench.csv"), file_name="bench.csv"
        )
        seconds = time.perf_counter() - began
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "created": job.created_count,
                "errors": job.error_count,
                "status": job.status.lower(),
                "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
