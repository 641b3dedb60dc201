"""Reference lookups: bytes per value of a precision, GPU datasheet figures, interconnect figures."""

from __future__ import annotations

from envelope_xl.reference import GPU_FIELD_NAMES, GPU_FIELDS, GPUS, LINK_FIELD_NAMES, LINK_FIELDS, LINKS, PRECISIONS
from envelope_xl.registry import register


@register(
    "BYTES_PER_PARAM",
    example=("bf16",),
    pillar="Precision and catalogs",
    summary="Bytes one value occupies in a numeric format (fp32 4, bf16 2, fp8 1, int4 0.5).",
    returns="bytes per value",
    result_unit="bytes",
    formula="bits of the format / 8",
    source="ieee754-2008 section 3.6 (fp64, fp32, fp16); google-bfloat16; micikevicius2022 (fp8); "
    "dettmers2023 section 3 (nf4)",
)
def bytes_per_param(precision: str) -> float:
    """Bytes one parameter occupies in `precision`.

    Formula: bits / 8, from `data/precisions.toml` (each row cites its format).

    Examples:
        >>> bytes_per_param("bf16"), bytes_per_param("FP32"), bytes_per_param("nf4")
        (2.0, 4.0, 0.5)
    """
    return PRECISIONS.get("precision", precision).bytes


@register(
    "GPU_SPEC",
    example=("H100-SXM", "bf16_tflops"),
    pillar="Precision and catalogs",
    summary="A datasheet figure of a GPU: memory_gb, bandwidth_tbs, or a dense peak such as "
    "bf16_tflops, fp8_tflops, fp32_tflops, int8_tops.",
    returns="the figure, in the unit its field name says (GB, TB/s, TFLOP/s, TOP/s)",
    formula="look-up in the GPU catalog",
    source="nvidia-a100-whitepaper (2:4 structured sparsity doubles the tensor peak, so sparse figures are "
    "halved to dense)",
    arg_docs={"field": "memory_gb (GB), bandwidth_tbs (TB/s), fp64/fp32/tf32/bf16/fp16/fp8/fp4_tflops "
              "(dense TFLOP/s) or int8_tops (dense TOP/s)"},
    unit_from=lambda a: GPU_FIELDS[GPU_FIELD_NAMES.get("field", a["field"])],
)
def gpu_spec(gpu: str, field: str) -> float:
    """One datasheet figure of `gpu`.

    Fields: memory_gb (GB), bandwidth_tbs (TB/s), fp64/fp32/tf32/bf16/fp16/fp8/fp4_tflops
    (dense TFLOP/s) and int8_tops (dense TOP/s). A chip without such a peak (fp8 on an
    A100, bf16 on a T4) is an error, never a zero.

    Source: the datasheet cited on the GPU's row of `data/gpus.toml`.

    Examples:
        >>> gpu_spec("h100", "bf16_tflops"), gpu_spec("A100-80GB", "memory_gb")
        (989.5, 80.0)
    """
    return GPUS.get("gpu", gpu).spec(GPU_FIELD_NAMES.get("field", field))


@register(
    "LINK_SPEC",
    example=("nvlink4", "bandwidth_gbs"),
    pillar="Precision and catalogs",
    summary="A figure of an interconnect: bandwidth_gbs (one GPU, one direction, GB/s) or latency_us (one "
    "message step of a ring collective, microseconds), for NVLink, PCIe, InfiniBand, RoCE and Ethernet links.",
    returns="the figure, in the unit its field name says (GB/s, us)",
    formula="look-up in the link catalog",
    source="nccl file 'src/graph/tuning.cc' (hwLat: the latency of one ring step, Simple protocol); "
    "nvidia-h100-datasheet-2023 column 'H100 SXM' (NVLink printed as both directions, 900 GB/s: each "
    "link's source and halving are in links.toml)",
    arg_docs={"field": "bandwidth_gbs (GB/s, per GPU and direction) or latency_us (microseconds per message "
              "step)"},
    arg_choices={"field": LINK_FIELD_NAMES},
    unit_from=lambda a: LINK_FIELDS[LINK_FIELD_NAMES.get("field", a["field"])],
)
def link_spec(link: str, field: str) -> float:
    """One figure of an interconnect from `data/links.toml`.

    Fields: bandwidth_gbs, what one GPU sends (or receives) per second over the link, in
    GB/s (vendors print NVLink and PCIe as both directions together: halved here); and
    latency_us, NCCL's cost per message step of a ring collective on that class of link.

    Examples:
        >>> link_spec("nvlink4", "bandwidth_gbs"), link_spec("InfiniBand NDR", "bandwidth_gbs")
        (450.0, 50.0)
    """
    found = LINKS.get("link", link)
    return getattr(found, LINK_FIELD_NAMES.get("field", field))
