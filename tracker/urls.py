from django.contrib import admin
from django.urls import include, path

from tracker import health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", health.health, name="health"),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
]
