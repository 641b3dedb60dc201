"""Activation recomputation strategies (Korthikanti et al. 2022, section 5)."""

from envelope_xl.checks import Names

RECOMPUTE: Names[str] = Names(
    "recomputation strategy",
    {"none": "none", "selective": "selective", "full": "full"},
    {"none": ["no", "off", "false"], "selective": ["sel", "attention"], "full": ["all", "checkpointing", "on"]},
)
