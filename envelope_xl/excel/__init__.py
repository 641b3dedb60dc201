"""Setting up the envelope-xl functions in Excel, through xlwings.

- `envelope_xl.udfs`: the functions themselves (classic xlwings UDFs, also imported by
  xlwings Lite).
- `conf`: merging our settings into xlwings' user configuration (`xlwings.conf`).
- `lite`: the `main.py` and `requirements.txt` an xlwings Lite workbook needs.
- `cli`: `envelope-xl excel setup` and `envelope-xl excel lite`.

Only the BSD-licensed part of xlwings is used (classic UDFs, add-in, CLI); nothing here
imports xlwings PRO, xlwings Server or `xlwings.server`.
"""

#: The module name to put in xlwings' "UDF Modules" setting.
UDF_MODULE = "envelope_xl.udfs"

#: xlwings releases whose UDF registration (`xlwings.udfs`: decorators, VBA generation,
#: "Import Functions") tests/test_excel_udfs.py exercises. Others may work; setup warns.
TESTED_XLWINGS = ("0.37.8",)
