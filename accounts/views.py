from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from . import services
from .serializers import CredentialsInputSerializer, RefreshInputSerializer, UserSerializer


class AuthView(APIView):
    """Base of the token endpoints: public, throttled on the shared Redis cache."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"


def _auth_answer(user, status_code=status.HTTP_200_OK) -> Response:
    body = {"user": UserSerializer(user).data, **services.tokens_for_user(user)}
    return Response(body, status=status_code)


class RegisterView(AuthView):
    def post(self, request):
        data = CredentialsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        return _auth_answer(user, status.HTTP_201_CREATED)


class LoginView(AuthView):
    def post(self, request):
        data = CredentialsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_login(request=request, **data.validated_data)
        return _auth_answer(user)


class RefreshView(AuthView):
    def post(self, request):
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(services.token_refresh(**data.validated_data))


class LogoutView(AuthView):
    throttle_classes: list = []

    def post(self, request):
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.token_revoke(**data.validated_data)
        return Response({"message": "Logged out"})


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"user": UserSerializer(request.user).data})
