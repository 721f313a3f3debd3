import pytest
from django.urls import reverse

from reports.models import DailyStat
from reports.stats import aggregate_daily_stats

pytestmark = pytest.mark.django_db


@pytest.fixture
def stat(issue):
    aggregate_daily_stats()
    return DailyStat.objects.get(status=issue.status, severity=issue.severity)


def test_daily_stats_are_listed_for_an_admin(client, admin_user, stat):
    client.force_login(admin_user)

    response = client.get(reverse("admin:reports_dailystat_changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count == 16
    assert response.context["action_form"] is None  # not even bulk delete


def test_daily_stats_are_read_only_in_the_admin(client, admin_user, stat):
    client.force_login(admin_user)
    change_url = reverse("admin:reports_dailystat_change", args=[stat.pk])

    page = client.get(change_url)

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert client.get(reverse("admin:reports_dailystat_add")).status_code == 403
    assert client.post(change_url, {"count": 999}).status_code == 403
    delete_url = reverse("admin:reports_dailystat_delete", args=[stat.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    stat.refresh_from_db()
    assert stat.count == 1


def test_daily_stats_are_refused_to_a_maintainer(client, maintainer, stat):
    client.force_login(maintainer)
    url = reverse("admin:reports_dailystat_changelist")

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('admin:login')}?next={url}"
