"""CLIP: an image encoder and a text encoder that map into one embedding space.

A CLIP package (task ``embedding``, architecture ``clip``; docs/model-package.md) holds
``image_encoder`` (``pixel_values (B, 3, H, W) float32 → (B, D)``), ``text_encoder``
(``input_ids, attention_mask (B, T) int64 → (B, D)``) and ``tokenizer`` (``tokenizer.json``).
Embeddings are the projected, *unnormalized* features, as the reference server returns them;
:func:`cosine_similarity` normalizes.

Image preprocessing is open_clip's: shorter side to the input size with PIL bicubic resampling,
centre crop, RGB, ``/ scaling_factor``, then ``(x - mean) / std`` from ``input.normalization``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image

from visionflow.errors import InvalidModelPackageError, ModelLoadError
from visionflow.models.base import SessionFactory, scaled_pixels
from visionflow.models.manifest import InputSpec, ModelManifest
from visionflow.models.package import ModelPackage
from visionflow.runtime import OnnxSession
from visionflow.runtime.tokenizer import ClipTokenizer

__all__ = [
    "ClipImageEncoder",
    "ClipModel",
    "ClipTextEncoder",
    "ClipTokenizer",
    "clip_pixels",
    "cosine_similarity",
]

_BATCH = 32
_TEXT_INPUTS = ("input_ids", "attention_mask")


def cosine_similarity(
    a: npt.NDArray[np.floating], b: npt.NDArray[np.floating]
) -> npt.NDArray[np.float64]:
    """``(N, D)`` × ``(M, D)`` → ``(N, M)`` cosine similarities (a zero vector scores 0)."""
    a64 = np.asarray(a, dtype=np.float64)
    b64 = np.asarray(b, dtype=np.float64)
    a_norm = np.linalg.norm(a64, axis=-1, keepdims=True)
    b_norm = np.linalg.norm(b64, axis=-1, keepdims=True)
    a_unit = np.divide(a64, a_norm, out=np.zeros_like(a64), where=a_norm > 0)
    b_unit = np.divide(b64, b_norm, out=np.zeros_like(b64), where=b_norm > 0)
    return np.asarray(a_unit @ b_unit.T, dtype=np.float64)


def _resize_shorter_side(image: Image.Image, width: int, height: int) -> Image.Image:
    """torchvision's ``Resize(size)`` for square targets (long side truncated), otherwise the
    smallest scale that covers ``width × height``."""
    w, h = image.size
    if width == height:
        if w <= h:
            new_w, new_h = width, int(width * h / w)
        else:
            new_w, new_h = int(height * w / h), height
    else:
        scale = max(width / w, height / h)
        new_w, new_h = max(width, round(w * scale)), max(height, round(h * scale))
    if (new_w, new_h) == (w, h):
        return image
    return image.resize((new_w, new_h), Image.Resampling.BICUBIC)


def clip_pixels(
    images_bgr: Sequence[npt.NDArray[np.uint8]], spec: InputSpec
) -> npt.NDArray[np.float32]:
    """BGR ``(H, W, 3) uint8`` images → ``(B, 3, spec.height, spec.width) float32``."""
    batch = np.empty((len(images_bgr), spec.height, spec.width, 3), dtype=np.float32)
    for index, image_bgr in enumerate(images_bgr):
        pixels = image_bgr[..., ::-1] if spec.color_mode == "rgb" else image_bgr
        image = _resize_shorter_side(
            Image.fromarray(np.ascontiguousarray(pixels)), spec.width, spec.height
        )
        # torchvision's CenterCrop offsets: Python round (half to even) of the centred margin.
        left = round((image.size[0] - spec.width) / 2.0)
        top = round((image.size[1] - spec.height) / 2.0)
        cropped = np.asarray(image, dtype=np.uint8)[
            top : top + spec.height, left : left + spec.width
        ]
        batch[index] = scaled_pixels(cropped, spec)
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


def _output_dim(session: OnnxSession) -> int | None:
    last = session.outputs[0].shape[-1] if session.outputs and session.outputs[0].shape else None
    return last if isinstance(last, int) else None


class ClipImageEncoder:
    """Images → ``(N, D) float32`` embeddings through the image-encoder session."""

    def __init__(self, session: OnnxSession, spec: InputSpec) -> None:
        if spec.layout != "nchw":
            raise ModelLoadError("a CLIP image encoder takes channels-first (nchw) input")
        self._session = session
        self._spec = spec
        self._input = session.input.name
        self._static_batch = session.input.shape[0] if session.input.shape else None
        self._dim = _output_dim(session)

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.embed([np.zeros((8, 8, 3), dtype=np.uint8)]).shape[1])
        return self._dim

    def embed(self, images_bgr: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float32]:
        step = self._static_batch or _BATCH
        chunks = [
            self._run(clip_pixels(images_bgr[start : start + step], self._spec))
            for start in range(0, len(images_bgr), step)
        ]
        if not chunks:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        return np.concatenate(chunks)

    def _run(self, pixels: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        count = pixels.shape[0]
        static = self._static_batch
        if static is not None and count < static:
            filler = np.zeros((static - count, *pixels.shape[1:]), dtype=np.float32)
            pixels = np.concatenate([pixels, filler])
        out = np.asarray(self._session.run({self._input: pixels})[0], dtype=np.float32)
        return out.reshape(out.shape[0], -1)[:count]


class ClipTextEncoder:
    """Texts → ``(N, D) float32`` embeddings (unnormalized) through the text-encoder session.

    The session's inputs must be named ``input_ids`` and optionally ``attention_mask``.
    """

    def __init__(self, session: OnnxSession, tokenizer: ClipTokenizer) -> None:
        names = {spec.name: spec for spec in session.inputs}
        if "input_ids" not in names or not set(names) <= set(_TEXT_INPUTS):
            raise InvalidModelPackageError(
                f"a CLIP text encoder must take inputs {list(_TEXT_INPUTS)}, "
                f"this one takes {sorted(names)}"
            )
        length = names["input_ids"].shape[1] if len(names["input_ids"].shape) > 1 else None
        if isinstance(length, int) and length != tokenizer.context_length:
            raise ModelLoadError(
                f"the text encoder takes {length} tokens, the tokenizer makes "
                f"{tokenizer.context_length} (extra.context_length)"
            )
        self._session = session
        self._tokenizer = tokenizer
        self._dtypes = {
            name: np.int32 if spec.element_type == "tensor(int32)" else np.int64
            for name, spec in names.items()
        }
        self._static_batch = names["input_ids"].shape[0] if names["input_ids"].shape else None
        self._dim = _output_dim(session)
        self._dim_lock = threading.Lock()

    @property
    def tokenizer(self) -> ClipTokenizer:
        return self._tokenizer

    @property
    def dim(self) -> int:
        """Embedding width ``D`` (from the graph; probed once if the graph leaves it symbolic)."""
        if self._dim is None:
            with self._dim_lock:
                if self._dim is None:
                    self._dim = int(self.embed(["a"]).shape[1])
        return self._dim

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """``(len(texts), D) float32``; texts longer than the context are truncated."""
        ids, mask = self._tokenizer.encode(list(texts))
        step = self._static_batch or _BATCH
        chunks = [
            self._run(ids[start : start + step], mask[start : start + step])
            for start in range(0, len(ids), step)
        ]
        if not chunks:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        return np.concatenate(chunks)

    def _run(
        self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        count = ids.shape[0]
        static = self._static_batch
        if static is not None and count < static:
            ids = np.concatenate([ids, np.repeat(ids[-1:], static - count, axis=0)])
            mask = np.concatenate([mask, np.repeat(mask[-1:], static - count, axis=0)])
        arrays = {"input_ids": ids, "attention_mask": mask}
        feeds: dict[str, npt.NDArray[np.generic]] = {
            name: arrays[name].astype(dtype, copy=False) for name, dtype in self._dtypes.items()
        }
        out = np.asarray(self._session.run(feeds)[0], dtype=np.float32)
        return out.reshape(out.shape[0], -1)[:count]


class ClipModel:
    """A loaded CLIP package: ``image`` and ``text`` encoders sharing one embedding space."""

    def __init__(
        self, manifest: ModelManifest, image: ClipImageEncoder, text: ClipTextEncoder
    ) -> None:
        self.manifest = manifest
        self.image = image
        self.text = text

    @property
    def task(self) -> str:
        return "embedding"

    @property
    def dim(self) -> int:
        return self.text.dim

    @classmethod
    def load(cls, package: ModelPackage, sessions: SessionFactory) -> ClipModel:
        manifest = package.manifest
        if manifest.task != "embedding":
            raise InvalidModelPackageError(
                f"architecture 'clip' needs task 'embedding', the manifest says {manifest.task!r}"
            )
        if manifest.input.resize_mode != "center-crop":
            raise InvalidModelPackageError(
                "architecture 'clip' preprocesses with a centre crop: set input.resize_mode to "
                "'center-crop'"
            )
        context_length = int(manifest.extra.get("context_length", 77))
        pad_id = int(manifest.extra.get("pad_id", 0))
        tokenizer = ClipTokenizer.from_file(
            package.weight_path("tokenizer"), context_length=context_length, pad_id=pad_id
        )
        image = ClipImageEncoder(sessions(package.weight_path("image_encoder")), manifest.input)
        text = ClipTextEncoder(sessions(package.weight_path("text_encoder")), tokenizer)
        if image.dim != text.dim:
            raise InvalidModelPackageError(
                f"image embeddings are {image.dim} wide, text embeddings {text.dim}: "
                "the two encoders are not from one CLIP model"
            )
        return cls(manifest, image, text)

    def infer(
        self, images_bgr: Sequence[npt.NDArray[np.uint8]], params: object = None
    ) -> list[npt.NDArray[np.float32]]:
        """One ``(D,) float32`` image embedding per image."""
        return list(self.image.embed(images_bgr))
