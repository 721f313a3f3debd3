"""The Celery task that runs a large import (imported by issues.tasks, which
Celery autodiscovers). It takes the job's id only; the job says everything else."""

from celery import shared_task

from issues.importer.jobs import run_job


@shared_task(name="issues.import_csv")
def import_csv(job_id: str) -> dict:
    job = run_job(job_id)
    return {"status": job.status, "created": job.created_count, "errors": job.error_count}
