"""The camelCase JSON renderer, with the key conversion computed once per key.

djangorestframework-camel-case runs a regular-expression substitution on every key of every
row and rebuilds each dict as an OrderedDict: a page of 200 subscriptions spent about 10 ms
there (bench/bench_api.py). This renderer gives the same JSON: the same keys, the same
``JSON_UNDERSCOREIZE`` ``ignore_fields`` and ``ignore_keys``, plain dicts and lists, and
anything unusual (lazy strings, other iterables) handed to the library's own ``camelize``.
"""

from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from uuid import UUID

from django.utils.encoding import force_str
from django.utils.functional import Promise
from djangorestframework_camel_case import util
from djangorestframework_camel_case.render import CamelCaseJSONRenderer as LibraryRenderer

_AS_IS = (str, int, float, Decimal, type(None), datetime, date, time, UUID)


@lru_cache(maxsize=4096)
def camel_key(key: str) -> str:
    """`risk_per_trade` -> `riskPerTrade`, as the wire spells it."""
    return util.camelize_re.sub(util.underscore_to_camel, key) if "_" in key else key


def camelize(data, *, ignore_fields=(), ignore_keys=(), **options):
    """util.camelize, answer for answer, without its per-key regex and OrderedDicts."""
    ignore_fields = ignore_fields or ()
    ignore_keys = ignore_keys or ()

    def convert(value):
        if isinstance(value, dict):
            converted = {}
            for key, item in value.items():
                if isinstance(key, Promise):
                    key = force_str(key)
                new_key = camel_key(key) if isinstance(key, str) else key
                if key not in ignore_fields and new_key not in ignore_fields:
                    item = convert(item)
                if key in ignore_keys or new_key in ignore_keys:
                    converted[key] = item
                else:
                    converted[new_key] = item
            return converted
        if isinstance(value, (list, tuple)):
            return [convert(item) for item in value]
        if isinstance(value, _AS_IS):
            return value
        return util.camelize(value, ignore_fields=ignore_fields, ignore_keys=ignore_keys, **options)

    return convert(data)


class CamelCaseJSONRenderer(LibraryRenderer):
    def render(self, data, *args, **kwargs):
        # The grandparent: the library's render would camelize a second time.
        return super(LibraryRenderer, self).render(
            camelize(data, **self.json_underscoreize), *args, **kwargs
        )
