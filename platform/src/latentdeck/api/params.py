"""Numeric query parameters are canonical integers: ``0`` or ASCII digits without a leading zero, and
nothing else — no sign, space, decimal point, exponent, underscore or non-ASCII digit.

Python's ``int()`` and pydantic's lax mode read ``+0.0``, ``1_0``, `` 3`` or ``٣`` as numbers, so one
epoch or cursor would have many spellings; a proxy, cache or log that compares the text would then
disagree with the server about which resource was asked for. One spelling per number avoids that, and
a refusal names the parameter and the rule.
"""

from __future__ import annotations

import re
from typing import Annotated

from annotated_types import Ge
from pydantic import BeforeValidator

CANONICAL_INT = re.compile(r"0|[1-9][0-9]*")
CANONICAL_RULE = "digits only, without sign, decimal point, exponent or leading zero (e.g. 0, 7, 120)"


def is_canonical_int(text: str, max_digits: int = 18) -> bool:
    """Whether ``text`` is a canonical non-negative integer of at most ``max_digits`` digits."""
    return len(text) <= max_digits and CANONICAL_INT.fullmatch(text) is not None


def _canonical(value: object) -> object:
    # Query values arrive as text; anything else (a default, a Python caller) is left to pydantic.
    if isinstance(value, str) and not is_canonical_int(value, 9):
        raise ValueError(f"must be a whole number written canonically: {CANONICAL_RULE}")
    return value


# An int query parameter that accepts only the canonical spelling (the OpenAPI type stays integer, minimum 0).
CanonicalInt = Annotated[int, Ge(0), BeforeValidator(_canonical)]
