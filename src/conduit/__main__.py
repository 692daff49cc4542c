"""``python -m conduit``: the ``conduit`` command where its script is not installed (Heroku's Procfile)."""

from conduit.ops.cli import main

main(prog_name="conduit")
