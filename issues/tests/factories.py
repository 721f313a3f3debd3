"""Factories for issue-side objects. Issues are created through the service layer
(so they carry their CREATED event and a real number), never with a bare save."""

import factory

from accounts.tests.factories import UserFactory
from issues import services
from issues.models import Comment, Issue, Label, Severity


class LabelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Label
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"label-{n}")
    colour = "#1d76db"


class IssueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Issue

    reporter = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Issue number {n}")
    description = factory.Faker("paragraph")
    severity = Severity.MEDIUM

    @classmethod
    def _create(cls, model_class, *args, reporter, **kwargs):
        return services.create_issue(actor=reporter, **kwargs)


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    issue = factory.SubFactory(IssueFactory)
    body = factory.Faker("sentence")

    @classmethod
    def _create(cls, model_class, *args, issue, author=None, **kwargs):
        return services.add_comment(actor=author or issue.reporter, issue=issue, **kwargs)
