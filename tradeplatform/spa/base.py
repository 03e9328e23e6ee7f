from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken


class SpaView(APIView):
    """An SPA endpoint: for a signed-in user; described in the README, not in the
    OpenAPI schema (it is a compatibility layer, not our contract)."""

    permission_classes = [IsAuthenticated]
    schema = None


class OptionalJWTAuthentication(JWTAuthentication):
    """The catalogue is public and the SPA sends whatever token it holds: an expired or
    revoked one browses as a guest instead of answering 401 (as the original did)."""

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except (InvalidToken, AuthenticationFailed):
            return None
