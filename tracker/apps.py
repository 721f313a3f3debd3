from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class TrackerConfig(AppConfig):
    default = True
    name = "tracker"


class TrackerAdminConfig(admin_apps.AdminConfig):
    """The admin, on a site that admits exactly the ADMIN role."""

    default = False
    default_site = "tracker.admin_site.TrackerAdminSite"
