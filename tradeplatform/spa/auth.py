"""/api/user/register|login|me|logout: the SPA's sign-up and sign-in.

The same accounts services as /auth/*; the answers differ: the user carries `name`,
`role` and `createdAt`, and the token is a session token (accounts.tokens) that lasts the
SPA's whole session, with no refresh token (the SPA never refreshes)."""

from rest_framework import serializers, status
from rest_framework.authentication import get_authorization_header
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from accounts import services
from accounts.serializers import CredentialsInputSerializer, UserSerializer
from accounts.views import AuthView

from .base import SpaView


class SpaUserSerializer(UserSerializer):
    """`role` is ADMIN for staff, REGULAR for everyone else (the original's roles; an
    author needs no role here)."""

    name = serializers.SerializerMethodField()
    role = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(source="date_joined", read_only=True)

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "name", "role", "created_at"]

    def get_name(self, user) -> str | None:
        return user.get_full_name() or None

    def get_role(self, user) -> str:
        return "ADMIN" if user.is_staff else "REGULAR"


class RegisterInputSerializer(CredentialsInputSerializer):
    name = serializers.CharField(max_length=150, required=False, allow_blank=True)


def _signed_in(user, status_code=status.HTTP_200_OK) -> Response:
    body = {"user": SpaUserSerializer(user).data, "token": services.session_token_for_user(user)}
    return Response(body, status=status_code)


def _bearer_token(request) -> str:
    scheme, _, token = get_authorization_header(request).decode("latin-1").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class SpaAuthView(AuthView):
    schema = None


class RegisterView(SpaAuthView):
    def post(self, request):
        data = RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        return _signed_in(user, status.HTTP_201_CREATED)


class LoginView(SpaAuthView):
    def post(self, request):
        data = CredentialsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _signed_in(services.user_login(request=request, **data.validated_data))


class LogoutView(SpaAuthView):
    """Ends the session token of the Authorization header (the SPA sends no body, or
    `{}`). Always 200: signing out of an expired session is not an error."""

    throttle_classes: list = []

    def post(self, request):
        token = _bearer_token(request)
        if token:
            services.session_token_revoke(token=token)
        return Response({"message": "Logged out"})


class MeView(SpaView):
    def get(self, request):
        return Response({"user": SpaUserSerializer(request.user).data})


class ProfileSerializer(SpaUserSerializer):
    """The profile pages' user. There is no phone number here (always null); the
    password can always be changed (no single sign-on)."""

    phone_number = serializers.SerializerMethodField()
    can_change_password = serializers.SerializerMethodField()

    class Meta(SpaUserSerializer.Meta):
        fields = [*SpaUserSerializer.Meta.fields, "phone_number", "can_change_password"]

    def get_phone_number(self, user) -> None:
        return None

    def get_can_change_password(self, user) -> bool:
        return True


class ProfileInputSerializer(serializers.Serializer):
    name = serializers.CharField(min_length=2, max_length=100)


class ProfileView(SpaView):
    """GET/PUT /api/user/profile: the SPA sends a signed-in user without a name here
    to give one before the dashboard."""

    def get(self, request):
        return Response({"success": True, "user": ProfileSerializer(request.user).data})

    def put(self, request):
        data = ProfileInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_rename(user=request.user, **data.validated_data)
        return Response({"success": True, "user": ProfileSerializer(user).data})


class PasswordChangeInputSerializer(serializers.Serializer):
    current_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class PasswordChangeView(SpaView):
    """PUT /api/user/change-password {currentPassword, newPassword}: the profile page's
    form. Throttled as sign-in is (a current password is being guessed otherwise); every
    other session of the user ends, this one stays."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    def put(self, request):
        data = PasswordChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_password_change(
            request=request,
            user=request.user,
            keep_token=_bearer_token(request),
            **data.validated_data,
        )
        return Response({"success": True, "message": "Password changed"})
