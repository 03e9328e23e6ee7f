import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from djangorestframework_camel_case.render import CamelCaseJSONRenderer as LibraryRenderer
from djangorestframework_camel_case.util import camelize as library_camelize
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from tradeplatform.renderers import CamelCaseJSONRenderer, camelize

OPTIONS = {
    "no_underscore_before_number": False,
    "ignore_fields": ("params", "signal"),
    "ignore_keys": ("keep_me",),
}

SAMPLES = [
    {
        "strategies": ReturnList(
            [
                ReturnDict(
                    {
                        "id": str(uuid.uuid4()),
                        "user_id": uuid.uuid4(),
                        "execution_config": {
                            "symbol": "BTCUSDT",
                            "lookback_period": 50,
                            "params": {"fast_period": 10, "slow_2": [1, {"a_b": 2}]},
                        },
                        "subscriber_count": 3,
                        "total_pnl": Decimal("12.50"),
                        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
                        "is_active": True,
                        "paused_at": None,
                        "tags": "trend,sma",
                    },
                    serializer=None,
                )
            ],
            serializer=None,
        ),
        "pagination": {"page": 1, "limit": 50, "total": 1, "pages": 1},
    },
    {"signal": {"stop_loss": 1.5, "action": "BUY"}, "keep_me": {"a_b": 1}, "x_1": (1, 2)},
    {gettext_lazy("lazy_key"): gettext_lazy("lazy value"), 7: "int key", "a__b_": [[{"c_d": 1}]]},
    {"error": "Invalid input", "details": {"risk_per_trade": ["Must be positive"]}},
    ["top_level", {"nested_list": ({"in_tuple": 1},)}],
    "just a string",
    None,
]


@pytest.mark.parametrize("data", SAMPLES)
def test_camelize_matches_the_library(data):
    ours = json.dumps(camelize(data, **OPTIONS), default=str)
    theirs = json.dumps(library_camelize(data, **OPTIONS), default=str)
    assert ours == theirs


@pytest.mark.parametrize("data", SAMPLES)
def test_renderer_output_is_byte_for_byte_the_library_output(data):
    assert CamelCaseJSONRenderer().render(data) == LibraryRenderer().render(data)


def test_generators_and_sets_fall_back_to_the_library():
    data = {"some_ids": (n for n in range(3)), "a_set": frozenset(["x_y"])}
    assert camelize(data) == {"someIds": [0, 1, 2], "aSet": ["x_y"]}
