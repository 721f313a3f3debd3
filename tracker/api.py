"""What every API endpoint shares: one error shape, pagination, strict input.

Every error answers `{"detail": "...", "errors": {"field": ["reason"]}}`, whether
it came from DRF's own parsing, a serializer, or the service layer's
ValidationError / PermissionDenied / NotFound / VersionConflict.
"""

import copy
from collections.abc import Mapping

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, parsers, renderers, serializers, status
from rest_framework.metadata import SimpleMetadata
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import exception_handler as drf_exception_handler

from issues.errors import FieldPermissionDenied, PayloadTooLarge, VersionConflict
from tracker import paging


class PreconditionRequired(exceptions.APIException):
    """An edit without the version it was made from (428)."""

    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = "Send the version you edited (`version` in the body or an If-Match header)."


def error_body(detail: str, errors: Mapping | None = None, **extra) -> dict:
    return {"detail": detail, "errors": dict(errors or {}), **extra}


def _as_field_errors(data) -> dict:
    if isinstance(data, Mapping):
        return {key: _reasons(value) for key, value in data.items()}
    return {"non_field_errors": _reasons(data)}


def _reasons(value, prefix: str = "") -> list[str]:
    """A flat list of strings, whatever DRF nested: a list field's errors come
    keyed by item ({"3": ["Not a valid string."]}) -> ["Item 3: Not a valid string."]."""
    if isinstance(value, Mapping):
        return [
            reason
            for key, inner in value.items()
            for reason in _reasons(inner, f"{prefix}{'Item ' if str(key).isdigit() else ''}{key}: ")
        ]
    if isinstance(value, list | tuple):
        return [reason for inner in value for reason in _reasons(inner, prefix)]
    return [f"{prefix}{value}"]


def exception_handler(exc, context):
    if isinstance(exc, VersionConflict):
        view = context.get("view")
        current = view.represent(exc.current) if hasattr(view, "represent") else None
        return Response(error_body(str(exc), current=current), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        errors = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return Response(error_body(_summary(errors), errors), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, FieldPermissionDenied):
        return Response(
            error_body(str(exc), {exc.field: [str(exc)]}), status=status.HTTP_403_FORBIDDEN
        )
    if isinstance(exc, PayloadTooLarge | RequestDataTooBig):
        return Response(error_body(str(exc)), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, Http404):
        errors = {"ids": exc.ids} if getattr(exc, "ids", None) else {}
        return Response(
            error_body(str(exc) or "Not found.", errors), status=status.HTTP_404_NOT_FOUND
        )
    if isinstance(exc, PermissionDenied):
        detail = str(exc) or "You do not have permission to perform this action."
        return Response(error_body(detail), status=status.HTTP_403_FORBIDDEN)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _as_field_errors(response.data)
        response.data = error_body(_summary(errors), errors)
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, Mapping) else ""
        missing = {"version": ["This field is required."]}
        response.data = error_body(
            str(detail), missing if isinstance(exc, PreconditionRequired) else None
        )
    return response


def _summary(errors: Mapping) -> str:
    """The first reason, for clients that show one line."""
    for field, reasons in errors.items():
        first = reasons[0] if isinstance(reasons, list) and reasons else reasons
        if isinstance(first, str):
            return first if field == "non_field_errors" else f"{field}: {first}"
    return "Invalid input."


class Pagination(LimitOffsetPagination):
    """limit/offset pages whose `count` is exact up to settings.LIST_COUNT_CAP
    (10,000), or for a search settings.SEARCH_COUNT_CAP (1,000), narrowed by
    another filter settings.FILTERED_SEARCH_COUNT_CAP (100).

    Beyond it `count` is the cap and `count_exact` is false ("more than 10,000"):
    counting a million rows on every page costs more than the page itself. A
    client that reads only `count` still gets a number; `next` does not depend
    on the count, so following it walks the whole list."""

    default_limit = 50
    max_limit = 200

    def paginate_queryset(self, queryset, request, view=None):
        """`queryset`: or a tracker.paging.Listing, as page_slice takes."""
        self.request = request
        self.limit = self.get_limit(request)
        if self.limit is None:
            return None
        self.offset = self.get_offset(request)
        page, self.has_next, counted = paging.page_slice(queryset, self.offset, self.limit)
        self.count, self.count_exact = counted.value, counted.exact
        if self.has_next or self.offset > 0:
            self.display_page_controls = True
        return page

    def get_paginated_response(self, data):
        return Response(
            {
                "count": self.count,
                "count_exact": self.count_exact,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        shape = super().get_paginated_response_schema(schema)
        shape["required"] = ["count", "count_exact", "results"]
        shape["properties"]["count"] = {
            "type": "integer",
            "example": 123,
            "description": "the number of results, exact up to a cap (10,000 by default, "
            "1,000 for a search); "
            "when `count_exact` is false there are more than this many",
        }
        shape["properties"] = {
            "count": shape["properties"]["count"],
            "count_exact": {
                "type": "boolean",
                "example": True,
                "description": "false when the list is longer than `count` (counted up to "
                "the cap only); follow `next` to read on",
            },
            **{k: v for k, v in shape["properties"].items() if k != "count"},
        }
        return shape

    def get_next_link(self):
        if not self.has_next:
            return None
        url = replace_query_param(
            self.request.build_absolute_uri(), self.limit_query_param, self.limit
        )
        return replace_query_param(url, self.offset_query_param, self.offset + self.limit)

    def get_html_context(self):
        """The browsable API's page links: past the cap, up to the next page."""
        if self.count_exact:
            return super().get_html_context()
        exact_count, self.count = self.count, self.offset + self.limit + int(self.has_next)
        try:
            return super().get_html_context()
        finally:
            self.count = exact_count


class JSONParser(parsers.JSONParser):
    """DRF's parser, except that a document nested too deeply for Python's
    decoder is bad input (400) rather than a RecursionError (500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None


# Bodies are JSON (attachments: multipart): a form post to a JSON endpoint is a
# client mistake and answers 415 instead of being half-understood.
JSON_ONLY = [JSONParser]


class StrictSerializer(serializers.Serializer):
    """Input shapes refuse fields they do not know instead of silently dropping
    them: a typo in a script should fail loudly, not lose the edit."""

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise exceptions.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise exceptions.ValidationError({field: ["Unknown field."] for field in unknown})
        return super().to_internal_value(data)

    def get_fields(self):
        """Each instance's own copy of the declared fields, as DRF's, but a field
        without fields inside it is copied rather than deep-copied: DRF builds a
        deep copy anew from the field's arguments (Field.__deepcopy__), while
        all that differs between two instances' copies is what bind() sets on
        each (its name and parent). A field with fields inside (a list's
        `child`, a related field's `child_relation`, a nested serializer's) is
        deep-copied, so that its inner fields are bound to its copy. An API
        create took the web worker 6.37 M instructions with the deep copies,
        6.00 M without (callgrind, in process, 2026-12-07)."""
        return {
            name: copy.deepcopy(field) if _holds_fields(field) else copy.copy(field)
            for name, field in self._declared_fields.items()
        }


def _holds_fields(field) -> bool:
    return (
        hasattr(field, "child")
        or hasattr(field, "child_relation")
        or isinstance(field, serializers.BaseSerializer)
    )


class TextField(serializers.CharField):
    """A JSON string and nothing else: a number sent as a title is a mistake in
    the client, not the text "42" (DRF's CharField would quietly convert it)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """DRF's HTML view of the API. Its templates carry inline style attributes, so
    on these pages alone the Content-Security-Policy also allows inline styles;
    scripts stay limited to our own files, as everywhere."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response._csp_update = {"style-src": ["'unsafe-inline'"]}
        return super().render(data, accepted_media_type, renderer_context)

    def get_filter_form(self, data, view, request):
        # Our list views filter by hand (issues.filters), with no DRF filter
        # backends and often no `queryset`, which DRF's version would ask for.
        if not getattr(view, "filter_backends", None):
            return None
        return super().get_filter_form(data, view, request)


class Metadata(SimpleMetadata):
    """OPTIONS answers name, description and media types; the field-by-field form
    description of DRF's default would need each view to expose a queryset."""

    def determine_actions(self, request, view):
        return {}


def validated(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
