"""``python -m reportgen``: the same command line as the ``reportgen`` script."""

from .cli import app

app(prog_name="reportgen")
