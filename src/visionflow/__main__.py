"""``python -m visionflow`` is the ``visionflow`` command."""

from visionflow.cli import main

main()
