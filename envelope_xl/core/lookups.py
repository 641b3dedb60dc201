"""Reference lookups: bytes per value of a precision, and GPU datasheet figures."""

from __future__ import annotations

from envelope_xl.reference import GPU_FIELD_NAMES, GPUS, PRECISIONS
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
