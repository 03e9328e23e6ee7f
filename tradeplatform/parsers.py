import json

from django.conf import settings
from djangorestframework_camel_case.parser import CamelCaseJSONParser
from djangorestframework_camel_case.settings import api_settings
from djangorestframework_camel_case.util import underscoreize
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant


class StrictCamelCaseJSONParser(CamelCaseJSONParser):
    """The camel-case JSON parser, made strict: NaN and Infinity are refused (as DRF's own
    JSON parser does), and a body nested too deeply for the parser is a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(stream.read().decode(encoding), parse_constant=strict_constant)
            return underscoreize(data, **api_settings.JSON_UNDERSCOREIZE)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc
