from django.urls import path

from issues.views import attachments, comments, create, detail, imports, lists, watching

app_name = "issues"

urlpatterns = [
    path("", lists.issue_list, name="list"),
    path("new/", create.new_issue, name="new"),
    path("preview/", create.preview, name="preview"),
    path("board/", lists.board, name="board"),
    path("bulk-status/", lists.bulk_status, name="bulk-status"),
    path("import/", imports.import_page, name="import"),
    path("import/<uuid:job_id>/", imports.import_job, name="import-job"),
    path("import/<uuid:job_id>/progress/", imports.import_progress, name="import-progress"),
    path("export.csv", imports.export_csv, name="export"),
    path("<issue_number:number>/", detail.detail, name="detail"),
    path("<issue_number:number>/panel/", detail.panel, name="panel"),
    path("<issue_number:number>/watch/", watching.watch, name="watch"),
    path("<issue_number:number>/edit/", detail.edit_text, name="edit"),
    path("<issue_number:number>/timeline/", detail.timeline, name="timeline"),
    path("<issue_number:number>/delete/", detail.delete, name="delete"),
    path("<issue_number:number>/move/", lists.move_card, name="move"),
    path("<issue_number:number>/comments/", comments.add_comment, name="comment"),
    path("<issue_number:number>/attachments/", attachments.attachments, name="attachments"),
    path(
        "<issue_number:number>/attachments/<int:attachment_id>/",
        attachments.download,
        name="download",
    ),
]
