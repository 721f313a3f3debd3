from django.contrib import admin

from accounts import roles


class TrackerAdminSite(admin.AdminSite):
    site_header = "Tracker administration"
    site_title = "Tracker admin"
    index_title = "Administration"

    def has_permission(self, request) -> bool:
        # The role is the only key: no is_staff flag can open the admin.
        return roles.can_use_admin(request.user)
