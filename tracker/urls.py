from django.contrib import admin
from django.urls import include, path

from tracker import health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", health.health, name="health"),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("tracker.api_urls")),
]

handler404 = "tracker.views.not_found"
handler500 = "tracker.views.server_error"
