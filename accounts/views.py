from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from tradeplatform.api import NotFoundMessageMixin
from tradeplatform.schema import ErrorSerializer, answer, schema_generation

from . import services
from .models import BrokerCredential
from .serializers import (
    AuthOutputSerializer,
    BrokerCredentialInputSerializer,
    BrokerCredentialOutputSerializer,
    CredentialsInputSerializer,
    MeOutputSerializer,
    MessageSerializer,
    RefreshInputSerializer,
    RegisterInputSerializer,
    TokensOutputSerializer,
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
    @extend_schema(
        tags=["auth"],
        summary="Create an account",
        description="Creates the user and logs them in (the answer carries the tokens). The "
        "password must follow the rules stated on the field (Django's password validators). "
        "Throttled per client address.",
        request=RegisterInputSerializer,
        responses={
            201: AuthOutputSerializer,
            409: OpenApiResponse(ErrorSerializer, description="A user with this email exists"),
        },
    )
    def post(self, request):
        data = RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        return _auth_answer(user, status.HTTP_201_CREATED)


class LoginView(AuthView):
    @extend_schema(
        tags=["auth"],
        summary="Log in: an access token and a refresh token",
        description="One answer for a wrong password and an unknown email. Throttled.",
        request=CredentialsInputSerializer,
        responses={
            200: AuthOutputSerializer,
            401: OpenApiResponse(ErrorSerializer, description="Invalid credentials"),
        },
    )
    def post(self, request):
        data = CredentialsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_login(request=request, **data.validated_data)
        return _auth_answer(user)


class RefreshView(AuthView):
    @extend_schema(
        tags=["auth"],
        summary="Trade a refresh token for new tokens (the old one is blacklisted)",
        description="Refresh tokens rotate: the one sent is blacklisted and cannot be used again.",
        request=RefreshInputSerializer,
        responses={
            200: TokensOutputSerializer,
            401: OpenApiResponse(ErrorSerializer, description="Invalid or expired token"),
        },
    )
    def post(self, request):
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(services.token_refresh(**data.validated_data))


class LogoutView(AuthView):
    throttle_classes: list = []

    @extend_schema(
        tags=["auth"],
        summary="Log out: blacklist the refresh token",
        description="The refresh token is dead at once; the access token lives until it expires.",
        request=RefreshInputSerializer,
        responses={
            200: MessageSerializer,
            401: OpenApiResponse(ErrorSerializer, description="Invalid or expired token"),
        },
    )
    def post(self, request):
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.token_revoke(**data.validated_data)
        return Response({"message": "Logged out"})


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["auth"],
        summary="The logged-in user",
        description="Needs `Authorization: Bearer <token>`.",
        responses=MeOutputSerializer,
    )
    def get(self, request):
        return Response({"user": UserSerializer(request.user).data})


@extend_schema_view(
    list=extend_schema(
        summary="The caller's broker credentials (never the key or secret)",
        description="Each with its broker name, the key's last four characters and whether "
        "it is active.",
    ),
    create=extend_schema(
        summary="Save a broker credential (the key and secret are write-only)",
        description="`brokerName` is `paper` (simulated fills at the platform's price, no "
        "key) or a ccxt exchange id, which needs `apiKey` and `apiSecret`. They are stored "
        "encrypted and never appear in any answer, log or admin page. An exchange's key is "
        "checked with the exchange first: 503 when it cannot be reached.",
        examples=[
            OpenApiExample("Paper trading", value={"brokerName": "paper"}, request_only=True)
        ],
        request=BrokerCredentialInputSerializer,
        responses={
            201: answer(
                "BrokerCredentialSavedAnswer",
                message=serializers.CharField(),
                credential=BrokerCredentialOutputSerializer(),
            ),
            503: OpenApiResponse(
                ErrorSerializer,
                description="The exchange could not be reached to check the key; try again",
            ),
        },
    ),
    destroy=extend_schema(
        summary="Delete (soft; refused while an active subscription uses it)",
        description="400 while an active subscription trades with it: move the subscription "
        "to another credential (PATCH brokerCredentialId) or cancel it first.",
        responses={200: MessageSerializer},
    ),
)
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
        if schema_generation(self):
            return BrokerCredential.objects.none()
        # `defer` keeps the sealed columns out of lists: they are of no use to the web.
        return (
            BrokerCredential.objects.filter(user=self.request.user)
            .defer("api_key_sealed", "api_secret_sealed")
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
