"""One `model` argument, in any of its forms, as an `Architecture`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from envelope_xl.errors import InputError
from envelope_xl.models import hf_config, ranges
from envelope_xl.models.architecture import Architecture
from envelope_xl.models.presets import PRESETS

FORMS = "a preset name, the path of a config.json, a range of field/value rows or a parameter count"


def resolve_model(arg: str, value: Any) -> Architecture:
    """The architecture `value` names or describes.

    `value` is a preset name (any case), the path of a Hugging Face config.json, a
    mapping with config.json keys, rows of (field, value) from a spreadsheet range, or
    a bare parameter count (`Architecture.need` refuses it where the architecture matters).
    """
    if isinstance(value, Architecture):
        return value
    if type(value) in (int, float):
        return Architecture.from_count(value, arg)
    if isinstance(value, str):
        text = value.strip()
        if text in PRESETS:
            return PRESETS.get(arg, text)
        if text.lower().endswith(".json") or os.sep in text or "/" in text or os.path.isfile(text):
            return hf_config.load_file(arg, text)
        preset_miss = PRESETS.error(arg, value)
        raise InputError(arg, value, f"expected {FORMS}; presets: {', '.join(PRESETS)}",
                         str(preset_miss).split(". ", 1)[1] if ". Did you mean" in str(preset_miss) else "")
    if isinstance(value, Mapping):
        return hf_config.from_mapping(arg, value)
    if isinstance(value, Sequence) and value and all(isinstance(r, Sequence) and not isinstance(r, str) for r in value):
        if len(value) == 1 and len(value[0]) == 1:
            return resolve_model(arg, value[0][0])
        return ranges.from_rows(arg, value)
    raise InputError(arg, value, f"expected {FORMS}")
