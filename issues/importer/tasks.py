"""The Celery tasks of the importer (imported by issues.tasks, which Celery
autodiscovers): running a large import, and (beat, every minute) marking the
imports whose worker died as failed."""

from celery import shared_task

from issues.importer.abandoned import reap_abandoned
from issues.importer.jobs import run_job


@shared_task(name="issues.import_csv")
def import_csv(job_id: str) -> dict:
    job = run_job(job_id)
    return {"status": job.status, "created": job.created_count, "errors": job.error_count}


@shared_task(name="issues.reap_abandoned_imports")
def reap_abandoned_imports() -> int:
    return reap_abandoned()
