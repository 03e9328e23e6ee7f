"""The session token of the original SPA's sign-in (`/api/user/login`, tradeplatform.spa).

That app keeps the token it got at sign-in for its whole session (24 hours) and never
calls a refresh endpoint, so a 15-minute access token would sign its users out mid-use.
It gets this token instead: an access token of type `session` that lives
`SPA_SESSION_HOURS` and, unlike a plain access token, is recorded (simplejwt's outstanding
tokens) and checked against the blacklist on every request, so `/api/user/logout` ends it
at once. Our own clients keep the short access token and the refresh rotation.
"""

from datetime import timedelta

from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken, BlacklistMixin


class SessionToken(BlacklistMixin, AccessToken):
    token_type = "session"
    lifetime = timedelta(hours=settings.SPA_SESSION_HOURS)
