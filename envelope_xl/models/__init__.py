"""Model descriptions: every form of the `model` argument as one `Architecture`.

    >>> from envelope_xl.models import resolve_model
    >>> resolve_model("model", "llama-2-7b").total_params
    6738415616.0
"""

from envelope_xl.models.architecture import PARAM_GROUPS, Architecture
from envelope_xl.models.fields import FIELD_NAMES, FIELDS
from envelope_xl.models.presets import PRESETS
from envelope_xl.models.resolve import FORMS, resolve_model

__all__ = ["FIELDS", "FIELD_NAMES", "FORMS", "PARAM_GROUPS", "PRESETS", "Architecture", "resolve_model"]
