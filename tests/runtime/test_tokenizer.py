"""The CLIP tokenizer reproduces open_clip's ids (recorded in the fixture by the export script)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fixtures.clip_tiny import CLIP_TINY, DIAGRAM_IDS, DIAGRAM_TEXT, reference
from visionflow.errors import InvalidModelPackageError
from visionflow.runtime.tokenizer import ClipTokenizer


@pytest.fixture(scope="module")
def tokenizer() -> ClipTokenizer:
    return ClipTokenizer.from_file(CLIP_TINY / "tokenizer.json", context_length=77)


def test_the_issue_example(tokenizer: ClipTokenizer) -> None:
    ids, mask = tokenizer.encode([DIAGRAM_TEXT])
    assert ids.shape == mask.shape == (1, 77)
    assert ids.dtype == mask.dtype == np.int64
    assert ids[0, : len(DIAGRAM_IDS)].tolist() == DIAGRAM_IDS
    assert not ids[0, len(DIAGRAM_IDS) :].any()
    assert mask[0].tolist() == [1] * len(DIAGRAM_IDS) + [0] * (77 - len(DIAGRAM_IDS))


@pytest.mark.parametrize(
    "entry", [pytest.param(e, id=repr(e["text"][:24])) for e in reference()["texts"]]
)
def test_ids_equal_open_clip(tokenizer: ClipTokenizer, entry: dict[str, object]) -> None:
    ids, _mask = tokenizer.encode([str(entry["text"])])
    assert [int(i) for i in ids[0] if i] == entry["open_clip_ids"]


def test_long_text_keeps_the_end_token(tokenizer: ClipTokenizer) -> None:
    ids, mask = tokenizer.encode(["word " * 200])
    assert ids[0, 0] == 49406
    assert ids[0, -1] == 49407
    assert mask[0].all()


def test_empty_batch(tokenizer: ClipTokenizer) -> None:
    ids, mask = tokenizer.encode([])
    assert ids.shape == mask.shape == (0, 77)


def test_a_shorter_context(tokenizer: ClipTokenizer) -> None:
    short = ClipTokenizer.from_file(CLIP_TINY / "tokenizer.json", context_length=8)
    ids, _mask = short.encode([DIAGRAM_TEXT])
    assert ids[0].tolist() == [*DIAGRAM_IDS[:7], 49407]


def test_a_broken_file_is_a_package_error(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "tokenizer.json"
    path.write_text("{}")
    with pytest.raises(InvalidModelPackageError, match=r"tokenizer\.json"):
        ClipTokenizer.from_file(path)
