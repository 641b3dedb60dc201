"""One bibliography: every citation resolves, every entry is complete and cited, derived figures
add up, the page is current, and the surfaces print short and full references."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from envelope_xl import bibliography, sources
from envelope_xl.bibliography import Citer
from envelope_xl.catalog import get
from envelope_xl.cli import main
from envelope_xl.explain import explain
from envelope_xl.reference import GPUS, PRECISIONS
from envelope_xl.registry import register
from envelope_xl.sources import Citation, CitationError, Work, parse

ROOT = Path(__file__).parent.parent


# --- the data: what the lead converts in a second pass shows up here, one line per citer --------


def test_entries_state_what_their_kind_needs():
    problems = bibliography.entry_problems()
    assert not problems, "\n".join(problems)


def test_every_function_cites_the_bibliography():
    problems = bibliography.citation_problems(bibliography.functions())
    assert not problems, "cite `key locator (note)` from data/bibliography.toml:\n" + "\n".join(problems)


def test_every_data_row_cites_the_bibliography():
    problems = bibliography.citation_problems(bibliography.data_rows())
    assert not problems, "cite `key locator (note)` from data/bibliography.toml:\n" + "\n".join(problems)


def test_every_entry_is_cited():
    problems = bibliography.unused_entries()
    assert not problems, "\n".join(problems)


def test_derived_arithmetic_holds():
    problems = bibliography.arithmetic_problems()
    assert not problems, "\n".join(problems)


def test_derived_results_are_the_figures_of_the_row():
    for gpu in GPUS.values():
        for *_, result in bibliography._ARITHMETIC.findall(gpu.derived):
            assert float(result) in gpu.specs.values(), f"{gpu.name}: {result} is no figure of the row"


def test_page_is_current():
    on_disk = (ROOT / bibliography.PAGE).read_text(encoding="utf-8")
    assert on_disk == bibliography.page(), "regenerate it: python -m envelope_xl.bibliography docs/bibliography.md"


# --- the checks find what they must ------------------------------------------------------------


def test_checks_name_free_text_and_unknown_keys():
    problems = bibliography.citation_problems(
        [Citer("GOOD", "kaplan2020 section 2.1"), Citer("FREE", "Kaplan et al. 2020, section 2.1"),
         Citer("UNKNOWN", "kaplan2020 section 2.1; kaplan2021 Table 1")]
    )
    assert len(problems) == 2
    assert problems[0].startswith("FREE: free text")
    assert problems[1] == "UNKNOWN: cites 'kaplan2021', which is not in bibliography.toml"


def test_checks_find_incomplete_entries():
    paper = Work("x2020", "paper", "A title", {"kind": "paper", "year": 2020, "checked": "read"})
    assert paper.problems() == ["no authors", "no venue", "no arxiv or doi or url",
                                "no authors, so it needs a `short` name for short citations"]
    page = Work("y", "webpage", "", {"kind": "webpage", "url": "https://x", "accessed": "May 2024", "pages": 3})
    assert "no title" in page.problems() and "no checked" in page.problems()
    assert "accessed must be a date, YYYY-MM-DD" in page.problems()
    assert "unknown fields ['pages']" in page.problems()
    assert Work("z", "blog", "T", {}).problems() == [
        "kind 'blog' is not one of paper, book, standard, datasheet, webpage, software, lecture"
    ]


def test_every_source_of_a_table_is_a_citer():
    # A table with one `source` (and `derived`), or one `x_source` (and `x_derived`) per value.
    table = {"bandwidth": 0.6, "bandwidth_source": "kaplan2020", "bandwidth_derived": "1 / 2 = 0.5",
             "latency": 10, "latency_source": "kingma2015", "inner": {"value": 3, "source": "little1961"}}
    assert list(bibliography._rows(table, "f.toml", [])) == [
        Citer("f.toml [bandwidth_source]", "kaplan2020", "1 / 2 = 0.5"),
        Citer("f.toml [latency_source]", "kingma2015", ""),
        Citer("f.toml [inner]", "little1961", ""),
    ]


def test_checks_find_wrong_arithmetic():
    rows = [Citer("a.toml [ok]", "x", "1979 / 2 = 989.5, 16 x 1.073741824 = 17.18"),
            Citer("a.toml [wrong]", "x", "3958 / 2 = 1989"), Citer("a.toml [none]", "x", "halved")]
    assert bibliography.arithmetic_problems(rows) == [
        "a.toml [wrong]: 3958 / 2 is 1979, not 1989",
        "a.toml [none]: derived shows no arithmetic (a / b = c or a x b = c)",
    ]


# --- the form --------------------------------------------------------------------------------


def test_parse_reads_keys_locators_and_notes():
    assert parse("korthikanti2022 Table 2; zero2020 section 5") == (
        Citation("korthikanti2022", ("Table 2",)), Citation("zero2020", ("section 5",)))
    assert parse("x2020 table 2, FIGURE 3.1, page 12-14 (a note, with commas)") == (
        Citation("x2020", ("Table 2", "Figure 3.1", "p. 12-14"), "a note, with commas"),)
    assert parse("hf-llama-3.1-8b file config.json, column 'H100 SXM', abstract") == (
        Citation("hf-llama-3.1-8b", ("file config.json", "column 'H100 SXM'", "abstract")),)
    assert parse("hf-llama-2-7b field vocab_size") == (Citation("hf-llama-2-7b", ("field vocab_size",)),)


@pytest.mark.parametrize("text", [
    "Kaplan et al. 2020, section 2.1",   # free text
    "kaplan2020 section",                # a locator without its label
    "kaplan2020 Tabel 2",                # not a locator kind
    "kaplan2020 (6N (per token))",       # parentheses in a note
    "kaplan2020; ",                      # an empty citation
    "kaplan2020 section 2.1;narayanan2021",  # "; " separates citations
])
def test_parse_refuses_what_is_not_in_the_form(text):
    with pytest.raises(CitationError):
        parse(text)


def test_registry_refuses_a_broken_citation_and_accepts_free_text_until_converted():
    with pytest.raises(CitationError, match="Figur 3"):
        register("NOT_REGISTERED", summary="", returns="", formula="", pillar="",
                 source="korthikanti2022 Table 2, Figur 3")
    assert sources.check_form("Capacity arithmetic (items x size x copies)") is False
    assert sources.check_form("korthikanti2022 Table 2") is True


# --- the surfaces --------------------------------------------------------------------------------


def test_short_and_full_references():
    (c,) = parse("korthikanti2022 Table 2")
    assert sources.short(c) == "Korthikanti et al. 2022, Table 2"
    assert sources.full(c).startswith("Korthikanti, Vijay; Casper, Jared;")
    assert "arXiv:2205.05198" in sources.full(c) and sources.full(c).endswith("Cited for: Table 2.")
    assert sources.readable("shazeer2020 section 2; kingma2015") == "Shazeer 2020, section 2; Kingma & Ba 2015"
    assert sources.readable("a file name.json at some path") == "a file name.json at some path"
    assert sources.authors_years("kaplan2020 section 2.1; kaplan2020 Table 1") == "Kaplan et al. 2020"


def test_citations_in_prose_built_at_import_are_rendered_when_shown():
    text = f"a default ({sources.mark('kaplan2020 section 2.1 (C = 6N per training token)')})"
    assert "kaplan2020" in text  # nothing is read from the bibliography until it is shown
    assert sources.render(text) == "a default (Kaplan et al. 2020, section 2.1)"
    assert sources.brief("kaplan2020 section 2.1 (a note); kingma2015") == (
        "Kaplan et al. 2020, section 2.1; Kingma & Ba 2015")
    chain = explain("PEAK_QPS", 1e6, 10).text()
    assert "[[" not in chain and "peak_factor = 3 by default" in chain and "(Cisco, 'Prime Time for Broadband" in chain
    choice = explain("RETRAINING_COST", 4e9, 200000, 8, 2.5).text()
    assert "retrain_every_days = 7 by default" in choice and "(a planning choice, not a measurement)" in choice


def test_explain_prints_short_citations():
    text = explain("TRAIN_MEM", 7e9, "bf16", "adam", 8, 3).text()
    assert "Source: Rajbhandari et al. 2020, section 3.1, section 5; Micikevicius et al. 2018, section 3.1" in text
    assert "(Google Cloud, 'The bfloat16 numerical format' (1 sign, 8 exponent, 7 mantissa bits))" in text
    assert "rajbhandari2020" not in text
    gpu = explain("DECODE_TPS", 7e9, "H100", "bf16").text()
    assert "NVIDIA H100 datasheet (2023), column 'H100 SXM'; derived: sparse tensor peaks halved" in gpu


def test_sources_command_prints_full_references():
    result = CliRunner().invoke(main, ["sources", "train_mem"])
    assert result.exit_code == 0
    assert "Formula cites:\n  Rajbhandari et al. 2020, section 3.1, section 5" in result.output
    assert "Reference data, argument optimizer (optimizers.toml):" in result.output
    assert "[rajbhandari2020] Rajbhandari, Samyam;" in result.output and "arXiv:1910.02054" in result.output
    everything = CliRunner().invoke(main, ["sources"]).output
    assert all(f"[{key}] " in everything for key in sources.works())


def test_excel_help_names_the_sources_when_they_fit():
    from envelope_xl import udfs

    assert udfs.description(get("CHINCHILLA_TOKENS")).endswith("Source: Hoffmann et al. 2022.")
    assert udfs.description(get("TRAIN_FLOPS")).endswith(
        "Source: Kaplan et al. 2020; Narayanan et al. 2021; Korthikanti et al. 2022; Chowdhery et al. 2022.")
    assert all(len(udfs.description(get(name))) <= udfs.DESCRIPTION_LIMIT for name in ("MODEL_PARAMS", "TRAIN_MEM"))


# --- the corrections of issue 17 ------------------------------------------------------------------


def test_issue_17_corrections():
    v5e = GPUS.get("gpu", "TPU-v5e")
    assert (v5e.specs["memory_gb"], v5e.specs["int8_tops"], v5e.specs["bandwidth_tbs"]) == (16, 393, 0.819)
    assert [c.key for c in parse(GPUS.get("gpu", "TPU-v5p").source)] == ["google-tpu-v5p", "google-tpu-v5p-blog"]
    assert parse(get("CHINCHILLA_TOKENS").source)[0].parts == ("Table 1", "Table 3")
    assert Citation("kwon2023", ("section 3",), "800 KB per token for OPT-13B") in parse(get("KV_CACHE").source)
    assert parse(get("DECODE_TPS").source)[1].parts == ("section 2",)
    int4 = PRECISIONS.get("precision", "gptq")
    assert [c.key for c in parse(int4.source)] == ["frantar2022", "lin2023"] and int4.peak_field == "fp16_tflops"
