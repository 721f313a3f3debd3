from accounts import roles


def nav(request) -> dict:
    """What the header shows depends on the role; the answers come from roles.py."""
    user = getattr(request, "user", None)
    return {
        "nav": {
            "can_use_admin": roles.can_use_admin(user),
            "can_view_reports": roles.can_view_reports(user),
        }
    }
