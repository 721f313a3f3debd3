from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class TrackerConfig(AppConfig):
    default = True
    name = "tracker"

    def ready(self):
        from django.db.backends.signals import connection_created

        from tracker.metrics import access, db_queries  # noqa: F401  (access registers its check)

        connection_created.connect(db_queries.install, dispatch_uid="tracker.count_queries")


class TrackerAdminConfig(admin_apps.AdminConfig):
    """The admin, on a site that admits exactly the ADMIN role."""

    default = False
    default_site = "tracker.admin_site.TrackerAdminSite"
