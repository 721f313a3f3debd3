"""Accounts API: tokens for scripts, the current user, people to assign."""

from django.contrib.auth import authenticate
from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import lockout, roles, services
from accounts.models import ApiToken, Role, User
from tracker.api import JSON_ONLY, Pagination, StrictSerializer, validated
from tracker.db import one


class LoginLockedOut(APIException):
    """429 with Retry-After (DRF's handler sets it from `wait`), in our error shape."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = lockout.LOCKED_OUT
    default_code = "locked_out"

    def __init__(self, detail=None, *, wait: int):
        super().__init__(detail)
        self.wait = wait


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "display_name", "name", "role"]


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at"]


class NewTokenSerializer(TokenSerializer):
    token = serializers.CharField(help_text="the key; shown only this once")

    class Meta(TokenSerializer.Meta):
        fields = ["token", *TokenSerializer.Meta.fields]


class TokenRequest(StrictSerializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(trim_whitespace=False)
    name = serializers.CharField(required=False, max_length=100)


class ObtainToken(GenericAPIView):
    """Email and password in, a new personal token out. Guarded like the login
    page: repeated wrong passwords lock the (email, client address) pair out."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = JSON_ONLY
    serializer_class = NewTokenSerializer

    @extend_schema(
        summary="Exchange email and password for an API token",
        request=TokenRequest,
        responses={
            201: NewTokenSerializer,
            429: OpenApiResponse(description="locked out after repeated wrong passwords"),
        },
    )
    def post(self, request):
        data = validated(TokenRequest, request.data)
        user = authenticate(request, username=data["email"], password=data["password"])
        if user is None and lockout.is_locked_out(request):
            seconds = lockout.retry_after_seconds(request, {"username": data["email"]})
            raise LoginLockedOut(lockout.message(seconds), wait=seconds)
        if user is None:
            raise ValidationError({"non_field_errors": ["Wrong email or password."]})
        lockout.succeeded(request, {"username": data["email"]})
        token, key = services.create_token(actor=user, name=data.get("name", "API token"))
        token.token = key
        return Response(NewTokenSerializer(token).data, status=status.HTTP_201_CREATED)


class TokenList(GenericAPIView):
    serializer_class = TokenSerializer
    pagination_class = None

    @extend_schema(
        operation_id="auth_tokens_list",
        summary="Your API tokens (without their keys)",
        responses=TokenSerializer(many=True),
    )
    def get(self, request):
        return Response(self.get_serializer(request.user.api_tokens.all(), many=True).data)


class TokenDetail(GenericAPIView):
    serializer_class = TokenSerializer

    @extend_schema(summary="Revoke one of your tokens", responses={204: None})
    def delete(self, request, token_id):
        token = one(request.user.api_tokens.filter(pk=token_id))
        if token is None:
            raise NotFound("No such token.")
        services.revoke_token(actor=request.user, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class Me(GenericAPIView):
    serializer_class = UserSerializer

    @extend_schema(summary="The signed-in user")
    def get(self, request):
        return Response(self.get_serializer(request.user).data)


class UserList(GenericAPIView):
    """For assignee pickers: MAINTAINER and ADMIN only."""

    serializer_class = UserSerializer
    pagination_class = Pagination

    @extend_schema(
        summary="Find users (MAINTAINER, ADMIN)",
        responses=UserSerializer(many=True),
        parameters=[
            OpenApiParameter("role", str, enum=Role.values),
            OpenApiParameter("q", str, description="part of the email or name"),
        ],
    )
    def get(self, request):
        if not roles.is_maintainer(request.user):
            raise PermissionDenied("Only maintainers and admins may list users.")
        users = User.objects.filter(is_active=True).order_by("display_name", "email")
        role = request.query_params.get("role")
        if role:
            if role.upper() not in Role.values:
                raise ValidationError({"role": [f"Use one of {', '.join(Role.values)}."]})
            users = users.filter(role=role.upper())
        text = request.query_params.get("q", "").strip()
        if "\x00" in text:  # PostgreSQL text cannot hold NUL
            raise ValidationError({"q": ["Null characters are not allowed."]})
        if text:
            users = users.filter(Q(email__icontains=text) | Q(display_name__icontains=text))
        page = self.paginate_queryset(users)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
