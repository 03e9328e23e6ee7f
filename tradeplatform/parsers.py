import json
import math

from djangorestframework_camel_case.parser import CamelCaseJSONParser
from djangorestframework_camel_case.settings import api_settings
from djangorestframework_camel_case.util import underscoreize
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant

from tradeplatform.renderers import CamelCaseJSONRenderer


def _finite_float(literal: str) -> float:
    """Python reads `1e400` as inf without a word; JSON numbers here must be finite."""
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"Number out of range: {literal[:30]}")
    return value


class StrictCamelCaseJSONParser(CamelCaseJSONParser):
    """The camel-case JSON parser, made strict: the body must be UTF-8 (RFC 8259), NaN,
    Infinity and numbers beyond a float (1e400) are refused (as DRF's own JSON parser does
    for the first two), and a body nested too deeply for the parser is a 400, not a 500.
    The browsable API writes its Raw data template with `renderer_class`: camelCase."""

    renderer_class = CamelCaseJSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            text = stream.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError("JSON parse error - the body must be UTF-8") from exc
        try:
            data = json.loads(text, parse_constant=strict_constant, parse_float=_finite_float)
            return underscoreize(data, **api_settings.JSON_UNDERSCOREIZE)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc
