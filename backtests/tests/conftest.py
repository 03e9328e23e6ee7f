import pytest


@pytest.fixture(autouse=True)
def _hand_made_market(settings, tmp_path):
    """The backtest tests write their own candles: those are the whole market. A backtest
    fetches what is missing from the provider first; here that is a csv provider with no
    files, so nothing is added (tests of the fetch set their own provider)."""
    settings.MARKET_DATA_PROVIDER = "csv"
    settings.MARKET_DATA_CSV_DIR = tmp_path / "no-candles"
