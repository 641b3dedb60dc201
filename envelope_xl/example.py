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

#: One decode step of the served model (64 sequences of 2,048 cached tokens), then the plan.
SERVING_DECODE = ("llama-3-8b", "H100-SXM", "bf16", 64, 2048)
SERVING_PLAN = ("llama-3-8b", 100, 1500, 300, "H100-SXM", "bf16", 1, 0.04, 0.45, 2.5)


def run(echo: Callable[[str], object], require_recalc: Callable[[], object] = lambda: None) -> None:
    """Print each question with its reasoning chain, a serving plan that says what limits it, a classic
    fleet question,
    then the example workbook recalculated; `require_recalc` stops before that last part
    when the `recalc` extra is missing."""
    rule = "=" * 78
    for question, function, args in QUESTIONS:
        echo(f"{rule}\nQ: {question}\n{rule}")
        echo(explain(function, *args).text() + "\n")

    echo(f"{rule}\nQ: How many H100s serve Llama 3 8B to 100 requests/s (1,500-token prompts, 300 generated "
         f"tokens) within MLPerf's interactive latency targets, at $2.50 per GPU-hour?\n{rule}")
    echo(explain("DECODE_TPS", *SERVING_DECODE).text() + "\n")
    plan = explain("SERVING_PLAN", *SERVING_PLAN)
    echo(plan.text() + "\n")
    rows = dict(plan.answer[1:])
    limit = next(step.value for step in plan.steps if step.label == "limit")
    echo(f"In short: {rows['gpus']} H100s ({rows['replicas']} replicas at batch {rows['batch']}), "
         f"{rows['tpot_s'] * 1000:.0f} ms per token, {rows['ttft_s'] * 1000:.0f} ms to the first token, "
         f"${rows['usd_per_million_tokens']:.2f} per million tokens. Bound by {limit}\n")

    echo(f"{rule}\nQ: How many CPU servers rank a feed for 100M daily users refreshing it 20 times a day, "
         f"at 1 GFLOP per request?\n{rule}")
    peak = call("PEAK_QPS", 100e6, 20)
    echo(explain("PEAK_QPS", 100e6, 20).text() + "\n")
    echo(explain("SERVERS_FOR_QPS", peak, call("REQUEST_CORE_SECONDS", 1e9)).text() + "\n")

    require_recalc()
    echo(f"{rule}\nThe same functions in a workbook, recalculated without Excel\n{rule}")
    from envelope_xl.recalc.example import run_example  # openpyxl and formulas: only here

    run_example(echo, engine="auto")
