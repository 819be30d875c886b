"""The API's JSON: DRF's `JSONRenderer` output byte for byte (compact, UTF-8, U+2028 and U+2029
escaped, DRF's encoder for what JSON has no type for), written by orjson.

The standard library's encoder cost about half a millisecond per page of 100 orders, orjson a
twentieth of it. Where orjson would write something else, DRF's renderer writes the answer:
an indent asked for in Accept, what orjson refuses (integers past 64 bits, keys that are not
strings, nesting past 254 levels) and a float orjson spells otherwise (0.00001 for 1e-05,
1.5e-6 for 1.5e-06: the API sends no float, so this is only a guard). One difference is left:
a float that is not a number (NaN, infinity) is written null where DRF's refused the answer
(a 500); the API sends none.
"""

from __future__ import annotations

import re

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

# Dates and times, and dataclasses, go through DRF's encoder as with the standard library.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_default = JSONEncoder().default
# The two forms of a float where orjson and `repr` differ: a one-digit negative exponent
# (1.5e-6, not 1.5e-06) and the decimals of 1e-05 <= |x| < 1e-04. A string that holds them
# only sends the answer through DRF's renderer (slower, the same bytes).
_FLOAT_EXPONENT = re.compile(rb"e-[0-9](?![0-9])")
_FLOAT_SMALL = re.compile(rb"0\.0000")
# U+2028 and U+2029 in UTF-8 (one search of the answer, which seldom holds them).
_SEPARATORS = re.compile(rb"\xe2\x80[\xa8\xa9]")


class JSONRenderer(renderers.JSONRenderer):
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None or self.get_indent(accepted_media_type, renderer_context or {}):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            content = orjson.dumps(data, default=_default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        if _FLOAT_SMALL.search(content) or _FLOAT_EXPONENT.search(content):
            return super().render(data, accepted_media_type, renderer_context)
        if _SEPARATORS.search(content):  # JSON as a strict subset of JavaScript, as DRF's
            content = content.replace("\u2028".encode(), b"\\u2028")
            content = content.replace("\u2029".encode(), b"\\u2029")
        return content
