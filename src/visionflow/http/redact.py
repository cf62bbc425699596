"""Server file paths out of error bodies.

Messages of lower layers (ONNX Runtime, the file system, importers) often name files by their
full path; a client has no business knowing where the server keeps its data. Any text under
one of the server's own directories (data directory, temp dir, the Python installation and
the working directory) is replaced by ``<server path>/<file name>`` in error bodies. The log
keeps the full text.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["PathRedactor"]


class PathRedactor:
    def __init__(self, directories: Iterable[Path]) -> None:
        prefixes = {
            str(path.resolve()) for path in directories if str(path.resolve()) not in {"/", ""}
        }
        if not prefixes:
            self._pattern: re.Pattern[str] | None = None
            return
        alternatives = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
        # A prefix counts only as a whole path component: ``/srv/vf`` is not in ``/srv/vfx``.
        self._pattern = re.compile(rf"(?:{alternatives})(?=[/\s'\"<>,;:)]|$)(?:/[^\s'\"<>,;:)]*)?")

    @classmethod
    def for_server(cls, home: Path, *extra: Path | None) -> PathRedactor:
        return cls(
            [
                home,
                Path(tempfile.gettempdir()),
                Path(sys.prefix),
                Path(sys.base_prefix),
                Path(os.getcwd()),
                *(path for path in extra if path is not None),
            ]
        )

    def text(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: f"<server path>/{Path(m.group(0)).name}", text)

    def value(self, value: Any) -> Any:
        """``value`` (a JSON-like body) with every string redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value
