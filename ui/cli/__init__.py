"""`shopfloor`: a thin command line over ui/usecases.py, one module per command group."""

from ui.cli import asking, documents, gaps, measuring, reporting, serving
from ui.cli.app import app, main

__all__ = ["app", "asking", "documents", "gaps", "main", "measuring", "reporting", "serving"]
