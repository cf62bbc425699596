"""visionflow: a self-hosted computer-vision inference server.

Importing the top-level package is cheap on purpose: the SDK (``visionflow.client``) must import
without the server's dependencies installed.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
