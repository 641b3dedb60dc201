"""Reference sheets of the training plan: training defaults and the plan's choices (the links are
`reference_tables.add_links`, shared with the serving plan).

Every number is read from the core's data (data/links.toml, data/gpus.toml,
data/training.toml, data/cluster.toml) or its constants, each with its source, so the
plan's formulas never hold a figure typed by hand.
"""

from __future__ import annotations

from openpyxl.workbook import Workbook

from envelope_xl.core.activations import ATTENTION
from envelope_xl.core.finetune import ATTENTION_MATRICES, METHOD, MLP_MATRICES, parse_targets
from envelope_xl.core.peak_memory import HOST_FP32_BYTES, MASTER_BYTES, OFFLOAD
from envelope_xl.reference import LINKS, PRECISIONS, TRAINING
from envelope_xl.sources import readable
from envelope_xl.templates import reference_tables as ref
from envelope_xl.templates import style

#: The intra-node link choice meaning "the GPU's own" (TRAIN_STEP_TIME's intra_link omitted).
GPU_OWN_LINK = "GPU's own"

#: (defined name, label, value, unit, source) of each default the formulas read.
_DEFAULTS = (
    ("td_cuda_context_gb", "CUDA context", TRAINING.cuda_context / 1e9, "GB", TRAINING.cuda_context_source),
    ("td_allocator_fraction", "allocator slack", TRAINING.allocator_fraction, "of the rest",
     TRAINING.allocator_source),
    ("td_ddp_bucket_bytes", "data-parallel bucket (plain DDP)", TRAINING.ddp_bucket, "bytes", TRAINING.ddp_source),
    ("td_zero_bucket", "ZeRO-1/2 reduce bucket", TRAINING.zero_bucket_elements, "elements", TRAINING.zero_source),
    ("td_zero3_gathered", "ZeRO-3 blocks gathered", TRAINING.zero3_blocks_gathered, "blocks", TRAINING.zero3_source),
    ("td_zero3_reduced", "ZeRO-3 blocks of gradients held", TRAINING.zero3_blocks_reduced, "blocks",
     TRAINING.zero3_source),
    ("td_cpu_buffer", "host buffer factor (offload)", TRAINING.cpu_buffer_factor, "x", TRAINING.offload_source),
    ("td_master_bytes", "fp32 master copy", MASTER_BYTES, "bytes per parameter",
     "micikevicius2018 section 3.1 (mixed precision keeps an fp32 master copy of the weights)"),
    ("td_host_fp32_bytes", "host fp32 weights + gradients (offload)", HOST_FP32_BYTES, "bytes per parameter",
     TRAINING.offload_source),
)

#: QLoRA's frozen base: stored in nf4 when the precision is a training format (as TRAIN_PEAK_MEM does).
QLORA_STORAGE = "nf4"
_NF4 = PRECISIONS.get("precision", QLORA_STORAGE)
_DEFAULTS += (
    ("td_qlora_base_bytes", "QLoRA base weight (nf4 + constants)",
     _NF4.bytes + TRAINING.quant_constant_bits[QLORA_STORAGE] / 8, "bytes per weight",
     f"{TRAINING.quant_sources[QLORA_STORAGE]}; {_NF4.source}"),
)
#: The LoRA target choices offered, and the matrices each adapts (PEFT's names).
LORA_TARGETS = ("all", "attention", "mlp", "q,v", "q,k,v,o")
MATRICES = ATTENTION_MATRICES + MLP_MATRICES

#: The plan's drop-down lists: (defined name, header, values).
LISTS = (
    ("list_methods", "method", list(METHOD)),
    ("list_offload", "offload", list(OFFLOAD)),
    ("list_attention", "attention", list(ATTENTION)),
    ("list_links", "links", list(LINKS)),
    ("list_intra_links", "intra-node link", [GPU_OWN_LINK, *LINKS]),
)


def add_training_defaults(wb: Workbook) -> None:
    """The defaults of peak training memory, one named cell each."""
    ws = ref._sheet(wb, "Training defaults", "Training defaults: what a step holds besides its model states",
                    "From envelope_xl/data/training.toml and the constants of envelope_xl/core/peak_memory.py.")
    rows = [(label, value, unit, readable(source)) for _, label, value, unit, source in _DEFAULTS]
    first = ref._table(ws, ("default", "value", "unit", "source"), rows, (36, 14, 18, 80),
                       formats={2: "#,##0.###"})
    for r, (name, *_rest) in enumerate(_DEFAULTS, start=first):
        style.define(wb, name, ws, f"B{r}")


def add_training_lists(wb: Workbook) -> None:
    """The plan's drop-down lists, and the matrices each LoRA target choice adapts (as the core parses it)."""
    ws = ref._sheet(wb, "Training lists", "Choices of the training plan",
                    "Generated from the catalog: methods, offload, attention kernels, links; LoRA targets: 1 where "
                    "the choice adapts the matrix (PEFT's names).")
    header = ref.FIRST_DATA_ROW - 1
    lora = len(LISTS) + 2  # the LoRA table's first column, after a blank one
    style.header_row(ws, header, [h for _, h, _ in LISTS])
    style.header_row(ws, header, ("LoRA targets", *MATRICES), first_column=lora)
    style.set_columns(ws, [(h, 16) for _, h, _ in LISTS] + [("", 3), ("LoRA targets", 14)]
                      + [(m, 7) for m in MATRICES])
    for col, (name, _, values) in enumerate(LISTS, start=1):
        for r, value in enumerate(values, start=header + 1):
            ws.cell(r, col, value)
        style.define(wb, name, ws, ref._column(ws, col, header + 1, len(values)))
    for r, choice in enumerate(LORA_TARGETS, start=header + 1):
        chosen = parse_targets("lora_targets", choice)
        ws.cell(r, lora, choice)
        for col, matrix in enumerate(MATRICES, start=lora + 1):
            ws.cell(r, col, int(matrix in chosen))
    style.define(wb, "list_lora_targets", ws, ref._column(ws, lora, header + 1, len(LORA_TARGETS)))
    for col, matrix in enumerate(MATRICES, start=lora + 1):
        style.define(wb, f"lora_{matrix}", ws, ref._column(ws, col, header + 1, len(LORA_TARGETS)))
    ws.freeze_panes = ws.cell(header + 1, 1)
