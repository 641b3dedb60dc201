"""Headless batch recalculation: `envelope-xl recalc`.

`engine` says what an engine is, `python_engine` is the pure-Python one, `writeback`
patches the computed values into the untouched original, `safety` refuses hostile
files before loading, `runner` runs each file in a limited worker process, `report`
and `cli` are the command. Every XML part is read by `xmlsafe` (the hardened parser),
worksheets by `sheetxml`, and parts are edited by `xmledit`.
"""
