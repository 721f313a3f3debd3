"""Everything under /api/."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import api as accounts_api
from issues.api import imports as import_api
from issues.api import views as issues_api
from reports import api as reports_api

app_name = "api"

urlpatterns = [
    path("auth/token/", accounts_api.ObtainToken.as_view(), name="token"),
    path("auth/tokens/", accounts_api.TokenList.as_view(), name="token-list"),
    path("auth/tokens/<int:token_id>/", accounts_api.TokenDetail.as_view(), name="token-detail"),
    path("users/me/", accounts_api.Me.as_view(), name="me"),
    path("users/", accounts_api.UserList.as_view(), name="user-list"),
    path("issues/", issues_api.IssueList.as_view(), name="issue-list"),
    path("issues/bulk-status/", issues_api.BulkStatus.as_view(), name="bulk-status"),
    path("issues/import/", import_api.IssueImport.as_view(), name="issue-import"),
    path(
        "issues/import/<str:job_id>/",
        import_api.IssueImportStatus.as_view(),
        name="issue-import-status",
    ),
    path("issues/export.csv", import_api.IssueExport.as_view(), name="issue-export"),
    path(
        "issues/by-number/<issue_number:number>/",
        issues_api.IssueByNumber.as_view(),
        name="issue-by-number",
    ),
    path("issues/<str:issue_id>/", issues_api.IssueDetail.as_view(), name="issue-detail"),
    path("issues/<str:issue_id>/events/", issues_api.IssueEvents.as_view(), name="issue-events"),
    path(
        "issues/<str:issue_id>/comments/", issues_api.IssueComments.as_view(), name="issue-comments"
    ),
    path("issues/<str:issue_id>/labels/", issues_api.IssueLabels.as_view(), name="issue-labels"),
    path("issues/<str:issue_id>/watch/", issues_api.IssueWatch.as_view(), name="issue-watch"),
    path(
        "issues/<str:issue_id>/labels/<str:name>/",
        issues_api.IssueLabelDetail.as_view(),
        name="issue-label",
    ),
    path(
        "issues/<str:issue_id>/attachments/",
        issues_api.IssueAttachments.as_view(),
        name="issue-attachments",
    ),
    path(
        "issues/<str:issue_id>/attachments/<int:attachment_id>/download/",
        issues_api.AttachmentDownload.as_view(),
        name="attachment-download",
    ),
    path("labels/", issues_api.LabelList.as_view(), name="label-list"),
    path("labels/<int:label_id>/", issues_api.LabelDetail.as_view(), name="label-detail"),
    path(
        "reports/open-by-severity/",
        reports_api.OpenBySeverity.as_view(),
        name="report-open-by-severity",
    ),
    path("reports/by-status/", reports_api.ByStatus.as_view(), name="report-by-status"),
    path("reports/top-assignees/", reports_api.TopAssignees.as_view(), name="report-top-assignees"),
    path(
        "reports/resolution-latency/",
        reports_api.ResolutionLatency.as_view(),
        name="report-resolution-latency",
    ),
    path("reports/throughput/", reports_api.Throughput.as_view(), name="report-throughput"),
    path("reports/open-age/", reports_api.OpenAge.as_view(), name="report-open-age"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file of its own (?script):
    # the Content-Security-Policy allows no inline script.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", template_name="api/swagger_ui.html"
        ),
        name="docs",
    ),
]
