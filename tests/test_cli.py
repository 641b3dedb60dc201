"""The envelope-xl command: values on stdout, one error line on stderr, exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from envelope_xl.catalog import CATALOG
from envelope_xl.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_call_prints_the_value_alone():
    result = run("call", "TRAIN_MEM", "7e9", "bf16", "adam")
    assert (result.exit_code, result.output) == (0, "112.0\n")


def test_call_is_case_insensitive_and_takes_named_and_empty_arguments():
    assert run("call", "train_mem", "7e9", "gpus=64", "zero_stage=3").output == "1.75\n"
    assert run("call", "TRAIN_MEM", "7e9", "GPUS=64", "Zero_Stage=3").output == "1.75\n"
    assert run("call", "TRAIN_MEM", "7e9", "", "sgd").output == "56.0\n"
    assert run("call", "CHECKPOINT_SIZE", "7e9", "bf16", "adam", "FALSE").output == "14.0\n"
    assert run("call", "HUMAN_BYTES", "112e9").output == "112 GB\n"


def test_call_prints_full_precision():
    value = float(run("call", "DECODE_TPS", "7e9").output)
    assert value == pytest.approx(3.35e12 * 0.6 / 14e9, rel=1e-15)
    assert len(run("call", "DECODE_TPS", "7e9").output.strip()) > 15  # repr, not rounded


def test_call_json():
    result = run("call", "TRAIN_TIME", "7e9", "1e12", "1024", "unit=h", "--json")
    data = json.loads(result.output)
    assert data["function"] == "TRAIN_TIME"
    assert data["unit"] == "h"
    assert data["args"]["gpu"] == "H100-SXM"
    assert data["value"] == pytest.approx(6 * 7e9 * 1e12 / (1024 * 989.5e12 * 0.4) / 3600)


def test_call_breakdown_prints_rows():
    assert run("call", "TRAIN_MEM_BREAKDOWN", "7e9").output.splitlines()[-1] == "total\t112.0"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["call", "TRAIN_MEM", "7e9", "bf16", "adma"], "optimizer: got 'adma'"),
        (["call", "TRAIN_MEN", "7e9"], "Did you mean 'TRAIN_MEM'?"),
        (["call", "TRAIN_MEM", "-1"], "params: got -1.0; expected a finite number > 0"),
        (["call", "TRAIN_MEM", "7e9", "gpus=64.5"], "gpus: got 64.5; expected a whole number >= 1"),
        (["call", "TRAIN_MEM", "gpus=8", "7e9"], "expected name=value after a named argument"),
        (["explain", "KV_CACHE", "32", "8", "128", "0"], "seq_len: got 0.0"),
        (["call", "TRAIN_MEM", "7e9", "fp8", "precision=bf16"], "precision is already given"),
        (["call", "TRAIN_MEM", "7e9", "gpus=8", "GPUS=16"], "gpus is already given"),
        (["call", "TRAIN_MEM", "7e9", "gpu=64"], "expected an argument name of TRAIN_MEM: params, precision"),
        (["call"], "Missing argument 'FUNCTION'"),  # click's usage errors, one line too
        (["recalc", "plan.xlsx", "--engine", "bogus"], "Invalid value for '--engine'"),
        (["no-such-command"], "No such command 'no-such-command'"),
    ],
)
def test_bad_input_is_one_line_on_stderr_with_status_2(args, message):
    result = subprocess.run([sys.executable, "-m", "envelope_xl", *args], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_explain_states_assumptions_steps_answer_and_source():
    out = run("explain", "TRAIN_MEM", "7e9", "bf16", "adam").output
    for part in ("Inputs:", "Assumptions:", "Steps:", "= 56 GB", "Answer: 112 GB", "Source: Rajbhandari"):
        assert part in out


def test_functions_lists_the_whole_catalog():
    out = run("functions").output
    for spec in CATALOG.values():
        assert spec.signature in out


def test_example_runs_the_worked_estimates():
    result = run("example")
    assert result.exit_code == 0
    assert "Answer: 112 GB" in result.output
    assert "Answer: 3,072 GB" in result.output
    assert "Decision: needs 82 servers: 81 carry the load and 1 spare" in result.output
