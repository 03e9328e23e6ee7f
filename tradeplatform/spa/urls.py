"""The SPA's paths (README "The original SPA"), mounted before the apps' own: bulk-stats
would otherwise be read as a subscription id."""

from django.urls import re_path

from . import auth, broker, catalogue, trading

UUID = r"(?P<pk>[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})"
SUBSCRIPTIONS = r"^api/strategies/subscriptions"

# Without a trailing slash, as the SPA calls them; one is accepted too.
urlpatterns = [
    re_path(r"^api/user/register/?$", auth.RegisterView.as_view(), name="spa-register"),
    re_path(r"^api/user/login/?$", auth.LoginView.as_view(), name="spa-login"),
    re_path(r"^api/user/logout/?$", auth.LogoutView.as_view(), name="spa-logout"),
    re_path(r"^api/user/me/?$", auth.MeView.as_view(), name="spa-me"),
    re_path(r"^api/user/profile/?$", auth.ProfileView.as_view(), name="spa-profile"),
    re_path(
        r"^api/user/change-password/?$",
        auth.PasswordChangeView.as_view(),
        name="spa-change-password",
    ),
    re_path(r"^api/marketplace/?$", catalogue.CatalogueView.as_view(), name="spa-marketplace"),
    re_path(
        rf"^api/marketplace/{UUID}/?$",
        catalogue.CatalogueDetailView.as_view(),
        name="spa-marketplace-detail",
    ),
    re_path(
        r"^api/broker/credentials/?$",
        broker.CredentialListView.as_view({"get": "list"}),
        name="spa-broker-credentials",
    ),
    re_path(r"^api/broker/keys/?$", broker.KeysView.as_view(), name="spa-broker-keys"),
    re_path(r"^api/broker/status/?$", broker.StatusView.as_view(), name="spa-broker-status"),
    re_path(r"^api/broker/test/?$", broker.ConnectionTestView.as_view(), name="spa-broker-test"),
    re_path(
        r"^api/broker/futures-balance/?$",
        broker.FuturesBalanceView.as_view(),
        name="spa-broker-balance",
    ),
    re_path(
        rf"{SUBSCRIPTIONS}/bulk-stats/?$",
        trading.BulkStatsView.as_view(),
        name="spa-subscription-bulk-stats",
    ),
    re_path(
        rf"{SUBSCRIPTIONS}/{UUID}/equity-curve/?$",
        trading.EquityCurveView.as_view(),
        name="spa-subscription-equity-curve",
    ),
    re_path(
        r"^api/positions/current/?$",
        trading.CurrentPositionsView.as_view(),
        name="spa-positions-current",
    ),
    re_path(r"^api/positions/orders/?$", trading.OrdersView.as_view(), name="spa-orders"),
    re_path(r"^api/positions/pnl/?$", trading.PnlView.as_view(), name="spa-pnl"),
    re_path(
        r"^api/positions/close/?$", trading.ClosePositionView.as_view(), name="spa-position-close"
    ),
]
