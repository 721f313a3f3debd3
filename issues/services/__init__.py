"""Every write to issues, comments, labels and attachments.

Each public function is one transaction: it takes the acting user, asks
`accounts.roles` whether they may, validates, writes, appends the timeline
events, announces the change (inside the transaction, see `issues.live`) and
schedules mail for after the commit (`issues.notifications`).
Pages, the API, the admin, the importer and commands all come through here,
one module per use case; this package exports them under one name.
"""

from issues.services.attachments import add_attachment, safe_filename, sniff_content_type
from issues.services.bulk import BULK_MAX, bulk_change_status
from issues.services.comments import add_comment, edit_comment
from issues.services.issues import (
    add_labels,
    assign,
    change_status,
    check_update,
    create_issue,
    delete_issue,
    remove_label,
    replace_labels,
    update_issue,
)
from issues.services.labels import create_label, delete_label, update_label
from issues.services.watching import is_watching, unwatch, watch

__all__ = [
    "BULK_MAX",
    "add_attachment",
    "add_comment",
    "add_labels",
    "assign",
    "bulk_change_status",
    "change_status",
    "check_update",
    "create_issue",
    "create_label",
    "delete_issue",
    "delete_label",
    "edit_comment",
    "is_watching",
    "remove_label",
    "replace_labels",
    "safe_filename",
    "sniff_content_type",
    "unwatch",
    "update_issue",
    "update_label",
    "watch",
]
