from django.apps import AppConfig
from django.urls import register_converter


class IssuesConfig(AppConfig):
    name = "issues"

    def ready(self):
        from issues.converters import IssueNumberConverter

        # Before any URLconf is read: issues.urls and tracker.api_urls use it.
        register_converter(IssueNumberConverter, "issue_number")
