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
    path("<int:number>/", detail.detail, name="detail"),
    path("<int:number>/panel/", detail.panel, name="panel"),
    path("<int:number>/watch/", watching.watch, name="watch"),
    path("<int:number>/edit/", detail.edit_text, name="edit"),
    path("<int:number>/timeline/", detail.timeline, name="timeline"),
    path("<int:number>/delete/", detail.delete, name="delete"),
    path("<int:number>/move/", lists.move_card, name="move"),
    path("<int:number>/comments/", comments.add_comment, name="comment"),
    path("<int:number>/attachments/", attachments.upload, name="upload"),
    path(
        "<int:number>/attachments/<int:attachment_id>/",
        attachments.download,
        name="download",
    ),
]
