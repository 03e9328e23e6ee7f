from rest_framework import mixins, status, viewsets
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from tradeplatform.api import NotFoundMessageMixin

from . import services
from .models import BrokerCredential
from .serializers import (
    BrokerCredentialInputSerializer,
    BrokerCredentialOutputSerializer,
    CredentialsInputSerializer,
    RefreshInputSerializer,
    UserSerializer,
)


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


class BrokerCredentialViewSet(
    NotFoundMessageMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """/api/broker-credentials: the caller's own credentials; the secret is write-only."""

    permission_classes = [IsAuthenticated]
    serializer_class = BrokerCredentialOutputSerializer
    envelope_key = "credentials"
    not_found_message = "Broker credential not found"

    def get_queryset(self):
        # `defer` keeps the encrypted columns out of lists: nothing is decrypted to list.
        return (
            BrokerCredential.objects.filter(user=self.request.user)
            .defer("api_key", "api_secret")
            .order_by("-created_at", "-id")
        )

    def get_serializer_class(self):
        if self.action == "create":
            return BrokerCredentialInputSerializer
        return BrokerCredentialOutputSerializer

    def create(self, request, *args, **kwargs):
        data = BrokerCredentialInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        credential = services.broker_credential_create(user=request.user, **data.validated_data)
        return Response(
            {
                "message": "Broker credential saved",
                "credential": BrokerCredentialOutputSerializer(credential).data,
            },
            status=status.HTTP_201_CREATED,
        )

    def destroy(self, request, *args, **kwargs):
        services.broker_credential_deactivate(credential=self.get_object())
        return Response({"message": "Broker credential deleted"})
