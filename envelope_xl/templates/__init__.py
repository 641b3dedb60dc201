"""Prebuilt capacity-planning workbooks, generated with openpyxl from the core's catalog.

    >>> [w.FILENAME for w in WORKBOOKS]  # doctest: +NORMALIZE_WHITESPACE
    ['llm_training_plan.xlsx', 'llm_serving_plan.xlsx', 'embedding_storage_plan.xlsx',
     'estimation_cheat_sheet.xlsx', 'scenario_sweep.xlsx', 'recsys_design_plan.xlsx']

Workbooks 1 to 4 and 6 use standard spreadsheet functions only (Excel, LibreOffice Calc,
Google Sheets); the scenario sweep is written with the envelope functions themselves.
"""

from envelope_xl.templates.build import STANDARD_FUNCTIONS_ONLY, WORKBOOKS, build_all, build_bytes, default_out_dir

__all__ = ["STANDARD_FUNCTIONS_ONLY", "WORKBOOKS", "build_all", "build_bytes", "default_out_dir"]
