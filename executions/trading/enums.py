"""The trading vocabulary, defined once: what a strategy may say, which way a position
goes, why it closed. Django's TextChoices are plain `str` enums (`Side.BUY == "BUY"`);
the models take their choices from here."""

from django.db.models import TextChoices


class Side(TextChoices):
    BUY = "BUY"  # long
    SELL = "SELL"  # short


class Action(TextChoices):
    """A strategy's signal: open long, open short, do nothing, close everything."""

    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"
    EXIT = "EXIT"


class ExitReason(TextChoices):
    STOP_LOSS = "STOP_LOSS"
    TAKE_PROFIT = "TAKE_PROFIT"
    SIGNAL = "SIGNAL"  # the opposite signal closed it
    EXIT = "EXIT"  # an EXIT signal closed it
    CANCELLED = "CANCELLED"  # its subscription was cancelled: closed at the next close
    FLATTEN = "FLATTEN"  # an operator closed it (flatten, kill switch)
