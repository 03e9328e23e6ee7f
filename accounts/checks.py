"""Deploy checks (`manage.py check --deploy`) for the JWT signing key."""

from django.conf import settings
from django.core.checks import Warning, register

MIN_JWT_KEY_LENGTH = 50


@register("security", deploy=True)
def jwt_signing_key_check(app_configs, **kwargs):
    """The key that signs every token must be long and not the development default:
    HS256 is only as strong as its key, and anyone holding it can mint any user's token."""
    key = settings.SIMPLE_JWT.get("SIGNING_KEY") or ""
    problems = []
    if len(key) < MIN_JWT_KEY_LENGTH:
        problems.append(f"shorter than {MIN_JWT_KEY_LENGTH} characters")
    if key.startswith("dev-only"):
        problems.append("the development default")
    if not problems:
        return []
    return [
        Warning(
            f"JWT_SIGNING_KEY is {' and '.join(problems)}.",
            hint="Set JWT_SIGNING_KEY to a long random value, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`.",
            id="accounts.W001",
        )
    ]
