"""The built-in worked example behind `envelope-xl example` (the README's main job)."""

from __future__ import annotations

from collections.abc import Callable

from envelope_xl.catalog import call
from envelope_xl.explain import explain

#: (question, function, arguments): the questions the product is built for.
QUESTIONS: tuple[tuple[str, str, tuple], ...] = (
    ("How much memory does it take to train a 7B model with Adam in mixed precision?",
     "TRAIN_MEM", (7e9, "bf16", "adam")),
    ("How much storage do 1 billion 256-dimensional user embeddings need with 3 replicas?",
     "EMBED_STORAGE", (1e9, 256, "fp32", 3)),
    ("How long does a 70B model take to train on 2T tokens with 1,024 H100s at 40% MFU?",
     "TRAIN_TIME", (70e9, 2e12, 1024, "H100-SXM", "bf16", 0.4)),
)


def run(echo: Callable[[str], object], require_recalc: Callable[[], object] = lambda: None) -> None:
    """Print each question with its reasoning chain, a serving estimate built from two calls,
    then the example workbook recalculated; `require_recalc` stops before that last part
    when the `recalc` extra is missing."""
    rule = "=" * 78
    for question, function, args in QUESTIONS:
        echo(f"{rule}\nQ: {question}\n{rule}")
        echo(explain(function, *args).text() + "\n")

    echo(f"{rule}\nQ: How many H100s serve 2,000 requests/s of 500 generated tokens with a 7B model?\n{rule}")
    per_gpu = call("DECODE_TPS", 7e9, "H100-SXM", "bf16", 64)
    echo(explain("DECODE_TPS", 7e9, "H100-SXM", "bf16", 64).text() + "\n")
    echo(explain("SERVING_GPUS", 2000, 500, per_gpu, 0.7).text() + "\n")

    require_recalc()
    echo(f"{rule}\nThe same functions in a workbook, recalculated without Excel\n{rule}")
    from envelope_xl.recalc.example import run_example  # openpyxl and formulas: only here

    run_example(echo, engine="auto")
