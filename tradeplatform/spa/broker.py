"""/api/broker/*: the SPA's broker page and the balance its subscribe modal checks.

The SPA knows one broker and sends bare key pairs: they go to `SPA_BROKER` (paper by
default). Credentials are created and deactivated by the accounts services, sealed like
every other; no answer carries a key or a secret."""

from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from accounts.serializers import BrokerCredentialOutputSerializer
from accounts.views import BrokerCredentialViewSet

from . import selectors, services
from .base import SpaView


class CredentialListView(BrokerCredentialViewSet):
    """GET /api/broker/credentials: our credential list (`{credentials, pagination}`)."""

    schema = None


class KeysInputSerializer(serializers.Serializer):
    api_key = serializers.CharField(max_length=1000, write_only=True)
    api_secret = serializers.CharField(max_length=4000, write_only=True, trim_whitespace=False)


def _keys(request) -> dict:
    data = KeysInputSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


class KeysView(SpaView):
    def post(self, request):
        credential = services.broker_keys_store(user=request.user, **_keys(request))
        return Response(
            {
                "message": "Broker credentials stored",
                "credential": BrokerCredentialOutputSerializer(credential).data,
            }
        )

    def delete(self, request):
        count = services.broker_keys_remove(user=request.user)
        return Response({"message": f"Broker credentials deleted ({count})"})


class ConnectionTestView(SpaView):
    def post(self, request):
        services.broker_connection_test(**_keys(request))
        return Response({"success": True, "message": "Connection test successful"})


class StatusView(SpaView):
    """Connected while the user has an active credential: the newest one's dates."""

    def get(self, request):
        credential = selectors.credential_newest_active(user=request.user)
        if credential is None:
            return Response({"connected": False, "message": "No broker credentials found"})
        return Response(
            {
                "connected": True,
                "broker_name": credential.broker_name,
                "connected_at": credential.created_at,
                "last_updated": credential.created_at,
            }
        )


class BalanceInputSerializer(serializers.Serializer):
    """The query, named as sent (query strings are not underscored)."""

    credentialId = serializers.UUIDField(required=False)


class FuturesBalanceView(SpaView):
    """`?credentialId=` (ours; the SPA sends none: the newest active credential).
    Throttled per user (`THROTTLE_BALANCE`): a stale look may hold a web worker while the
    orders worker reads the exchange."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "balance"

    def get(self, request):
        data = BalanceInputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        credential_id = data.validated_data.get("credentialId")
        return Response(services.broker_balance(user=request.user, credential_id=credential_id))
