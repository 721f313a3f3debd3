"""The CSV import page (upload, then the result or a progress bar that htmx
refreshes until the background import ends) and the list's CSV export."""

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts import roles
from issues import exporter, importer
from issues.errors import PayloadTooLarge
from issues.models import ImportJob
from tracker.db import one

RECENT = 10


class ImportForm(forms.Form):
    file = forms.FileField(label="CSV file", allow_empty_file=True)
    dry_run = forms.BooleanField(
        label="Only check the file (dry run): report the errors, import nothing", required=False
    )


def _require_triage(request) -> None:
    if not roles.can_triage(request.user):
        raise PermissionDenied("Only maintainers and admins may import issues.")


def _job_or_404(request, job_id) -> ImportJob:
    job = one(ImportJob.objects.filter(pk=job_id))
    if job is None or not (job.created_by_id == request.user.pk or roles.is_admin(request.user)):
        raise Http404("No such import.")
    importer.reap_if_abandoned(job)  # its worker may have died: say so
    return job


@require_http_methods(["GET", "POST"])
@login_required
def import_page(request):
    _require_triage(request)
    form, error, code = ImportForm(), "", 200
    if request.method == "POST":
        limit = settings.IMPORT_MAX_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit + 64 * 1024:
            error, code = f"The file is over the import limit of {limit // (1024 * 1024)} MB.", 413
        else:
            form = ImportForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                try:
                    job = importer.start_import(
                        actor=request.user,
                        upload=upload,
                        file_name=upload.name,
                        dry_run=form.cleaned_data["dry_run"],
                    )
                except ValidationError as exc:
                    error, code = " ".join(exc.messages), 400
                except PayloadTooLarge as exc:
                    error, code = str(exc), 413
                else:
                    return redirect("issues:import-job", job_id=job.pk)
            else:
                code = 400
    context = {
        "form": form,
        "error": error,
        "recent": ImportJob.objects.filter(created_by=request.user)[:RECENT],
        "max_mb": settings.IMPORT_MAX_BYTES // (1024 * 1024),
        "max_rows": settings.IMPORT_MAX_ROWS,
        "async_rows": settings.IMPORT_ASYNC_ROWS,
    }
    return render(request, "issues/import.html", context, status=code)


def _job_context(job: ImportJob) -> dict:
    result = importer.job_result(job)
    return {
        "job": job,
        "result": result,
        "invalid_rows": max(0, job.rows - job.created_count - job.skipped_count),
    }


@require_GET
@login_required
def import_job(request, job_id):
    _require_triage(request)
    job = _job_or_404(request, job_id)
    return render(request, "issues/import_job.html", _job_context(job))


@require_GET
@login_required
def import_progress(request, job_id):
    """The progress partial: it asks for itself again every second until the job
    has finished, then shows the summary and the error table instead."""
    _require_triage(request)
    job = _job_or_404(request, job_id)
    return render(request, "issues/_import_progress.html", _job_context(job))


@require_GET
@login_required
def export_csv(request):
    """The list's current filters (its query string) as a CSV download."""
    try:
        issues = exporter.filtered_issues(request)
    except ValidationError as exc:
        lines = [f"{field}: {' '.join(reasons)}" for field, reasons in exc.message_dict.items()]
        return HttpResponse(
            "These filters are not valid:\n" + "\n".join(lines),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    return exporter.csv_response(request, issues, bom=True)
