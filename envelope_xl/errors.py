"""The one exception the core raises for bad input."""

from __future__ import annotations


class InputError(ValueError):
    """An argument is outside what a function accepts.

    The message names the argument, the value received and what is allowed, so it
    can be shown as is: as a cell's error text in a spreadsheet, or as one line on
    stderr in the command line.
    """

    def __init__(self, arg: str, value: object, allowed: str, hint: str = "") -> None:
        self.arg, self.value, self.allowed = arg, value, allowed
        shown = "nothing" if value is None else repr(value)
        message = f"{arg}: got {shown}; {allowed}"
        super().__init__(f"{message}. {hint}" if hint else message)
