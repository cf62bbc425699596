"""The CLIP BPE tokenizer, run by the ``tokenizers`` library (Rust; thread-safe once built).

``tokenizer.json`` holds the OpenAI CLIP vocabulary, normalizer (NFC, straight quotes, collapsed
whitespace, lower case), pre-tokenizer and the SOT/EOT template (``scripts/export_clip.py`` builds
it from open_clip's ``bpe_simple_vocab_16e6.txt.gz``). This wrapper adds what ``open_clip.tokenize``
does around it: HTML entities unescaped (twice, as open_clip does), every sequence truncated to the
context length keeping EOT last, and padded with ``pad_id`` to exactly the context length.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from visionflow.errors import InvalidInputError, InvalidModelPackageError

__all__ = ["ClipTokenizer"]


class ClipTokenizer:
    """Texts → ``(input_ids, attention_mask)``, both ``(N, context_length) int64``."""

    def __init__(self, tokenizer: Tokenizer, context_length: int = 77, pad_id: int = 0) -> None:
        if context_length < 2:
            raise ValueError("context_length must leave room for the start and end tokens")
        pad_token = tokenizer.id_to_token(pad_id)
        if pad_token is None:
            raise InvalidModelPackageError(f"tokenizer has no token with the pad id {pad_id}")
        tokenizer.enable_truncation(max_length=context_length)
        tokenizer.enable_padding(length=context_length, pad_id=pad_id, pad_token=pad_token)
        self._tokenizer = tokenizer
        self.context_length = context_length
        self.pad_id = pad_id

    @classmethod
    def from_file(cls, path: Path, context_length: int = 77, pad_id: int = 0) -> ClipTokenizer:
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises plain Exception for unreadable files
            raise InvalidModelPackageError(
                f"{Path(path).name} is not a tokenizers JSON file: {exc}"
            ) from None
        return cls(tokenizer, context_length, pad_id)

    def encode(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Token ids and attention mask (1 = real token), ``(N, context_length) int64`` each;
        an empty ``texts`` gives ``(0, context_length)`` arrays. A text that is not valid Unicode
        (an unpaired surrogate, e.g. built by a workflow's template) is an ``InvalidInputError``."""
        cleaned = [html.unescape(html.unescape(text)) for text in texts]
        for index, text in enumerate(cleaned):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InvalidInputError(
                    f"text {index} holds an unpaired UTF-16 surrogate "
                    f"(\\u{ord(text[exc.start]):04x}): texts must be valid Unicode"
                ) from None
        encodings = self._tokenizer.encode_batch(cleaned) if cleaned else []
        ids = np.zeros((len(cleaned), self.context_length), dtype=np.int64)
        mask = np.zeros((len(cleaned), self.context_length), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row] = encoding.ids
            mask[row] = encoding.attention_mask
        return ids, mask
