"""Reference sheets of the serving plan, written from `envelope_xl.core.serving_data`.

The defaults of the serving estimates (data/serving.toml) with their sources, the ones that
depend on the precision (compute and prefill efficiency, scale bits, the KV cache's default
format), and each GPU's intra-node link (gpus.toml, links.toml). Every number is read from
the core's data, never typed here.
"""

from __future__ import annotations

from openpyxl.workbook import Workbook

from envelope_xl.core import serving_data as data
from envelope_xl.reference import PRECISIONS
from envelope_xl.sources import readable
from envelope_xl.templates import reference_tables as ref
from envelope_xl.templates import style

AUTO = "auto"
_BF16 = PRECISIONS.get("precision", "bf16")


def kv_default(precision: str) -> str:
    """The KV cache's format when the plan says "auto": the core's rule (Replica)."""
    p = PRECISIONS.get("precision", precision)
    return p.name if p.trainable else _BF16.name


#: The scalar defaults: (setting, value, unit, source); the plan's inputs start from these values.
SCALARS = (
    ("bandwidth_efficiency", data.BANDWIDTH_EFFICIENCY.value, "fraction", data.BANDWIDTH_EFFICIENCY.source),
    ("memory_utilization", data.MEMORY_UTILIZATION.value, "fraction", data.MEMORY_UTILIZATION.source),
    ("workspace_gb", data.WORKSPACE_GB.value, "GB per GPU", data.WORKSPACE_GB.source),
    ("allreduce_us", data.ALLREDUCE_US.value, "us", data.ALLREDUCE_US.source),
    ("activation_bytes", data.ACTIVATION_BYTES, "bytes", "shoeybi2019 section 3"),
    ("tpot_target_ms", data.TPOT_TARGET_S.value * 1000, "ms", data.TPOT_TARGET_S.source),
    ("ttft_target_s", data.TTFT_TARGET_S.value, "s", data.TTFT_TARGET_S.source),
)


def add_defaults(wb: Workbook) -> None:
    ws = ref._sheet(wb, "Serving defaults", "Serving defaults: what real engines reach and keep",
                    "From envelope_xl/data/serving.toml. The plan's yellow inputs start from these values; "
                    "change them in the plan.")
    rows = [(name, value, unit, readable(source)) for name, value, unit, source in SCALARS]
    rows += [  # the efficiencies by precision are on the next sheet; their sources here, where they read whole
        ("compute_efficiency", None, "by precision", readable(data.compute_efficiency(_BF16).source)),
        ("mfu (prefill)", None, "by precision", readable(data.prefill_mfu(_BF16).source)),
    ]
    ref._table(ws, ("setting", "value", "unit", "source"), rows, (22, 10, 12, 90), formats={2: "#,##0.00###"})


def add_by_precision(wb: Workbook) -> None:
    """Per weight precision: its KV cache by default, scale bits, decode and prefill efficiency."""
    ws = ref._sheet(wb, "Serving by precision", "Serving defaults by weight precision",
                    "From envelope_xl/data/serving.toml (by the precision's peak field) and precisions.toml. "
                    "'auto' KV cache: the weights' float format; bf16 for integer and weight-only formats.")
    precisions = [PRECISIONS.get("precision", name) for name in PRECISIONS]
    rows = [(p.name, kv_default(p.name), data.scale_bits(p).value, data.compute_efficiency(p).value,
             data.prefill_mfu(p).value, readable(data.scale_bits(p).source) if data.scale_bits(p).value else "")
            for p in precisions]
    headers = ("precision", "KV cache (auto)", "scale bits per weight", "decode compute efficiency",
               "prefill efficiency (MFU)", "source of the scales")
    first = ref._table(ws, headers, rows, (12, 11, 12, 17, 17, 54), formats={3: "0.00000", 4: "0%", 5: "0%"})
    n = len(rows)
    for name, col in (("srv_prec_names", 1), ("srv_kv_auto", 2), ("srv_scale_bits", 3), ("srv_compute_eff", 4),
                      ("srv_prefill_mfu", 5)):
        style.define(wb, name, ws, ref._column(ws, col, first, n))
    # The KV-cache drop-down: "auto" then every precision.
    col = len(headers) + 2
    style.header_row(ws, ref.FIRST_DATA_ROW - 1, ["KV-cache choices"], first_column=col)
    for r, value in enumerate([AUTO, *PRECISIONS], start=ref.FIRST_DATA_ROW):
        ws.cell(r, col, value)
    style.define(wb, "list_kv_precisions", ws, ref._column(ws, col, ref.FIRST_DATA_ROW, len(PRECISIONS) + 1))
    ws.column_dimensions[ws.cell(1, col).column_letter].width = 16


def add_sheets(wb: Workbook) -> None:
    add_defaults(wb)
    add_by_precision(wb)
    ref.add_links(wb)
