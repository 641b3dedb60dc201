"""`python -m envelope_xl` is the envelope-xl command."""

from envelope_xl.cli import run

run()
