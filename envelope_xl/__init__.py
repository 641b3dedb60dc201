"""envelope-xl: back-of-the-envelope estimates for ML systems, native to spreadsheets.

The functions below are the calculation core (standard library only). Each is also a
spreadsheet function of the same name in capitals (`train_mem` is `TRAIN_MEM`); see
`envelope_xl.catalog` for the catalog every surface draws on.

    >>> from envelope_xl import train_mem
    >>> train_mem(7e9, "bf16", "adam")
    112.0
"""

from envelope_xl.core import *  # noqa: F403
from envelope_xl.core import __all__ as _core_all
from envelope_xl.errors import InputError

__version__ = "0.1.0"
__all__ = [*_core_all, "InputError"]
