"""The ``visionflow`` command line."""

from visionflow.cli.app import app, main

__all__ = ["app", "main"]
