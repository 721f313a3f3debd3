from django.contrib import admin
from django.urls import include, path

from issues import live_views
from tracker import health, views
from tracker.metrics.views import metrics

urlpatterns = [
    # First: Django tries the prefixes in order, and each include passed over
    # raises and catches an exception (2 % of an API detail's instructions).
    path("api/", include("tracker.api_urls")),
    path("", views.home, name="home"),
    path("health/", health.health, name="health"),
    path("metrics", metrics, name="metrics"),
    path("accounts/", include("accounts.urls")),
    path("issues/", include("issues.urls")),
    path("dashboard/", include("reports.urls")),
    path("live/", live_views.live_stream, name="live-stream"),
    path("admin/", admin.site.urls),
]

handler403 = "tracker.views.forbidden"
handler404 = "tracker.views.not_found"
handler500 = "tracker.views.server_error"
