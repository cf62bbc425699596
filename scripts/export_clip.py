"""Export a CLIP model to a visionflow CLIP model package (see docs/model-package.md, "CLIP").

Dev-only; runs in the training virtualenv (scripts/requirements-clip.txt), never in the server's.

A CLIP package holds two ONNX graphs and the BPE tokenizer:

* ``image_encoder.onnx``: ``pixel_values (B, 3, S, S) float32`` -> ``image_embeds (B, D) float32``
* ``text_encoder.onnx``: ``input_ids, attention_mask (B, T) int64`` -> ``text_embeds (B, D)``
* ``tokenizer.json``: the OpenAI CLIP BPE (49408 tokens) for the ``tokenizers`` library

Embeddings are the *projected, unnormalized* features (``get_image_features`` /
``get_text_features`` in Hugging Face, ``encode_image`` / ``encode_text`` with
``normalize=False`` in open_clip): what the reference server returns from ``/clip/embed_*``.
Callers L2-normalize for cosine similarity.

Mode A, real weights (on a machine that has them; cannot be exercised offline here)::

    # Hugging Face checkpoint folder or hub id (e.g. openai/clip-vit-base-patch16)
    python scripts/export_clip.py --hf /path/to/clip-vit-base-patch16 --out /tmp/clip-vit-b-16
    # open_clip model name + pretrained tag or checkpoint file
    python scripts/export_clip.py --open-clip ViT-B-16 --pretrained openai --out /tmp/clip-vit-b-16
    visionflow models add clip/1 /tmp/clip-vit-b-16        # ViT-B-16 maps to clip/1 by default

Mode B, the test fixture (a tiny random ``transformers.CLIPModel`` built from a config; no
download)::

    /tmp/train-venv/bin/python scripts/export_clip.py --tiny-random

writes tests/fixtures/models/clip-tiny/ (the package, plus ``reference.json`` and two PNG images
with the PyTorch embeddings and open_clip token ids the tests compare against).

The tokenizer is always rebuilt from ``bpe_simple_vocab_16e6.txt.gz`` inside the open_clip wheel
(the vocabulary every OpenAI CLIP model uses); its ids are checked against open_clip's tokenizer.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "models" / "clip-tiny"
GRACE_HOPPER = REPO / "tests" / "fixtures" / "images" / "grace_hopper.jpg"

CONTEXT_LENGTH = 77
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
SOT, EOT = "<|startoftext|>", "<|endoftext|>"

# Texts whose open_clip ids and embeddings the fixture records: punctuation, digits, accents,
# HTML entities, curly quotes, odd whitespace, the empty string and one longer than 77 tokens.
REFERENCE_TEXTS = [
    "A Diagram!! of 2 dogs, 3 cats & a café.",
    "a photo of a cat",
    "a photo of a dog",
    "It's   the   DOG's   bone;  they'll   see\tit",
    "Tom &amp; Jerry say “hello” and ‘bye’",
    "naïve façade — 東京 ÜBER 123",
    "",
    " ".join(f"word{i}" for i in range(60)),
]


# --------------------------------------------------------------------------- tokenizer


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map (the BPE alphabet)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes), strict=True))


def build_tokenizer_json(bpe_gz: Path) -> dict[str, Any]:
    """``tokenizers`` JSON for the OpenAI CLIP BPE, built from open_clip's vocabulary file.

    Same vocabulary order as open_clip (256 bytes, 256 bytes + ``</w>``, 48894 merges, SOT, EOT),
    the same pre-tokenizer regex and lower-casing; SOT/EOT are added, sequences are truncated to
    the context length keeping EOT last and padded with id 0, as ``open_clip.tokenize`` does.
    """
    with gzip.open(bpe_gz) as handle:
        lines = handle.read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    alphabet = list(_bytes_to_unicode().values())
    vocab_list = alphabet + [c + "</w>" for c in alphabet] + ["".join(m) for m in merges]
    vocab_list += [SOT, EOT]
    vocab = {token: index for index, token in enumerate(vocab_list)}
    assert len(vocab) == 49408, len(vocab)
    sot_id, eot_id = vocab[SOT], vocab[EOT]
    special = [
        {
            "id": token_id,
            "content": token,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for token, token_id in ((SOT, sot_id), (EOT, eot_id))
    ]
    quotes = [("‘", "'"), ("’", "'"), ("‚", "'"), ("‛", "'"), ("“", '"'), ("”", '"')]
    quotes += [("„", '"'), ("‟", '"')]
    return {
        "version": "1.0",
        "truncation": {
            "direction": "Right",
            "max_length": CONTEXT_LENGTH,
            "strategy": "LongestFirst",
            "stride": 0,
        },
        "padding": {
            "strategy": {"Fixed": CONTEXT_LENGTH},
            "direction": "Right",
            "pad_to_multiple_of": None,
            "pad_id": 0,
            "pad_type_id": 0,
            "pad_token": "!",
        },
        "added_tokens": special,
        # ftfy's fix_text (open_clip's first cleaning step) reduces to NFC + straight quotes for
        # ordinary text; HTML entities are unescaped by the runtime wrapper.
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "NFC"},
                *[{"type": "Replace", "pattern": {"String": a}, "content": b} for a, b in quotes],
                {"type": "Replace", "pattern": {"Regex": r"\s+"}, "content": " "},
                {"type": "Strip", "strip_left": True, "strip_right": True},
                {"type": "Lowercase"},
            ],
        },
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {
                    "type": "Split",
                    "pattern": {
                        "Regex": r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"
                    },
                    "behavior": "Removed",
                    "invert": True,
                },
                {
                    "type": "ByteLevel",
                    "add_prefix_space": False,
                    "trim_offsets": True,
                    "use_regex": False,
                },
            ],
        },
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [
                {"SpecialToken": {"id": SOT, "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": EOT, "type_id": 0}},
            ],
            "pair": [
                {"SpecialToken": {"id": SOT, "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"Sequence": {"id": "B", "type_id": 0}},
                {"SpecialToken": {"id": EOT, "type_id": 0}},
            ],
            "special_tokens": {
                SOT: {"id": SOT, "ids": [sot_id], "tokens": [SOT]},
                EOT: {"id": EOT, "ids": [eot_id], "tokens": [EOT]},
            },
        },
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "</w>",
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [list(m) for m in merges],
        },
    }


def _default_bpe() -> Path:
    import open_clip.tokenizer

    return Path(open_clip.tokenizer.default_bpe())


def open_clip_ids(texts: Sequence[str]) -> list[list[int]]:
    import open_clip

    return [list(map(int, row)) for row in open_clip.tokenize(list(texts), CONTEXT_LENGTH)]


def write_tokenizer(out: Path) -> None:
    """Write ``tokenizer.json`` and check its ids against open_clip's tokenizer."""
    import html

    from tokenizers import Tokenizer

    data = build_tokenizer_json(_default_bpe())
    # Compact: the vocabulary and merges make this ~3 MB even without indentation.
    out.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    tokenizer = Tokenizer.from_file(str(out))
    texts = [*REFERENCE_TEXTS, "a  <b>bold</b> &lt;claim&gt;", "ＦＵＬＬ width"]
    ours = [e.ids for e in tokenizer.encode_batch([html.unescape(html.unescape(t)) for t in texts])]
    theirs = open_clip_ids(texts)
    for text, a, b in zip(texts, ours, theirs, strict=True):
        if a != b and "ＦＵＬＬ" not in text:  # ftfy folds full-width forms; we do not
            raise SystemExit(f"tokenizer mismatch for {text!r}:\n ours   {a}\n theirs {b}")


# --------------------------------------------------------------------------- encoders


def _wrap(model: Any, forward: Callable[..., Any]) -> Any:
    """``model`` in a ``torch.nn.Module`` whose ``forward(*inputs)`` is ``forward(model, *inputs)``;
    built lazily so importing needs no torch."""
    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return forward(self.model, *inputs)

    return Wrapper().eval()


def _hf_image(model: Any, pixel_values: Any) -> Any:
    pooled = model.vision_model(pixel_values=pixel_values).pooler_output
    return model.visual_projection(pooled)


def _hf_text(model: Any, input_ids: Any, attention_mask: Any) -> Any:
    pooled = model.text_model(input_ids=input_ids, attention_mask=attention_mask).pooler_output
    return model.text_projection(pooled)


def _open_clip_image(model: Any, pixel_values: Any) -> Any:
    return model.encode_image(pixel_values, normalize=False)


def _open_clip_text(model: Any, input_ids: Any, attention_mask: Any) -> Any:
    import torch

    # open_clip's text tower is causal and pools at the EOT (argmax) position, so padding never
    # reaches the embedding; the mask only keeps a uniform interface.
    embeds = model.encode_text(input_ids, normalize=False)
    return embeds + 0 * attention_mask[:, :1].to(torch.float32)


def encoders(model: Any, kind: str) -> tuple[Any, Any]:
    """(image encoder, text encoder) modules of a ``"hf"`` or ``"open_clip"`` CLIP model."""
    if kind == "hf":
        return _wrap(model, _hf_image), _wrap(model, _hf_text)
    return _wrap(model, _open_clip_image), _wrap(model, _open_clip_text)


def export_onnx(
    image_encoder: Any, text_encoder: Any, image_size: int, out: Path
) -> tuple[Path, Path]:
    import torch

    image_path, text_path = out / "image_encoder.onnx", out / "text_encoder.onnx"
    with torch.no_grad():
        torch.onnx.export(
            image_encoder,
            (torch.zeros(1, 3, image_size, image_size),),
            str(image_path),
            input_names=["pixel_values"],
            output_names=["image_embeds"],
            dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
        ids = torch.zeros(2, CONTEXT_LENGTH, dtype=torch.int64)
        ids[:, 0], ids[:, 1] = 49406, 49407
        torch.onnx.export(
            text_encoder,
            (ids, torch.ones_like(ids)),
            str(text_path),
            input_names=["input_ids", "attention_mask"],
            output_names=["text_embeds"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "text_embeds": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    _strip_docstrings(image_path)
    _strip_docstrings(text_path)
    return image_path, text_path


def _strip_docstrings(path: Path) -> None:
    """Drop the per-node Python stack traces torch writes into ``doc_string`` (noise + bytes)."""
    import onnx

    model = onnx.load(str(path))
    for node in model.graph.node:
        node.doc_string = ""
    model.producer_name = "visionflow scripts/export_clip.py"
    onnx.save(model, str(path))


def write_manifest(
    out: Path,
    *,
    image_size: int,
    dim: int,
    mean: Sequence[float],
    std: Sequence[float],
    source: dict[str, Any],
) -> None:
    def sha(name: str) -> str:
        return hashlib.sha256((out / name).read_bytes()).hexdigest()

    manifest = {
        "format": "visionflow-model-package/1",
        "task": "embedding",
        "architecture": "clip",
        "class_names": [],
        "input": {
            "width": image_size,
            "height": image_size,
            "resize_mode": "center-crop",
            "padding_value": 0,
            "color_mode": "rgb",
            "scaling_factor": 255.0,
            "normalization": {"mean": list(mean), "std": list(std)},
            "layout": "nchw",
            "batch_size": None,
        },
        "weights": {
            key: {"file": name, "sha256": sha(name)}
            for key, name in (
                ("image_encoder", "image_encoder.onnx"),
                ("text_encoder", "text_encoder.onnx"),
                ("tokenizer", "tokenizer.json"),
            )
        },
        "extra": {"context_length": CONTEXT_LENGTH, "embedding_dim": dim, "pad_id": 0},
        "source": source,
    }
    (out / "model.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


# --------------------------------------------------------------------------- modes


def tiny_random(out: Path, seed: int) -> None:
    import numpy as np
    import open_clip
    import torch
    from PIL import Image
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(seed)
    config = CLIPConfig(
        text_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": CONTEXT_LENGTH,
            "vocab_size": 49408,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 224,
            "patch_size": 32,
        },
        projection_dim=512,
    )
    # Random init gives embeddings of norm ~20, elements up to ~3: the scale of real CLIP
    # features, so the tests' 1e-5 tolerance is meaningful.
    model = CLIPModel(config).eval()
    image_encoder, text_encoder = encoders(model, "hf")

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    export_onnx(image_encoder, text_encoder, 224, out)
    write_tokenizer(out / "tokenizer.json")
    write_manifest(
        out,
        image_size=224,
        dim=512,
        mean=OPENAI_MEAN,
        std=OPENAI_STD,
        source={
            "format": "scripts/export_clip.py --tiny-random",
            "note": "random weights (transformers CLIPModel, hidden 32, 2 layers); test fixture",
            "seed": seed,
        },
    )

    # Reference inputs: a 224x224 image (no resize) and a 240x280 portrait (resize + crop).
    photo = Image.open(GRACE_HOPPER).convert("RGB")
    square = photo.crop((0, 44, 512, 556)).resize((224, 224), Image.Resampling.LANCZOS)
    portrait = photo.resize((240, 280), Image.Resampling.LANCZOS)
    square.save(out / "reference-square.png", optimize=True)
    portrait.save(out / "reference-portrait.png", optimize=True)
    transform = open_clip.image_transform(224, is_train=False, mean=OPENAI_MEAN, std=OPENAI_STD)
    images = {}
    with torch.no_grad():
        for name in ("reference-square.png", "reference-portrait.png"):
            pixels = transform(Image.open(out / name).convert("RGB")).unsqueeze(0)
            embedding = image_encoder(pixels)[0]
            images[name] = {
                "pixel_values_sha256": hashlib.sha256(
                    np.ascontiguousarray(pixels.numpy()).tobytes()
                ).hexdigest(),
                "embedding": [float(v) for v in embedding],
            }
        ids = torch.tensor(open_clip_ids(REFERENCE_TEXTS))
        mask = (torch.arange(ids.shape[1])[None, :] <= ids.argmax(dim=1)[:, None]).long()
        text_embeddings = text_encoder(ids, mask)
    reference = {
        "note": "PyTorch outputs of the tiny random CLIP (scripts/export_clip.py --tiny-random); "
        "images via open_clip.image_transform (PIL bicubic, shorter side, centre crop)",
        "context_length": CONTEXT_LENGTH,
        "texts": [
            {
                "text": text,
                "open_clip_ids": [int(i) for i in row if i],
                "embedding": [float(v) for v in emb],
            }
            for text, row, emb in zip(REFERENCE_TEXTS, ids.tolist(), text_embeddings, strict=True)
        ],
        "images": images,
    }
    (out / "reference.json").write_text(json.dumps(reference, ensure_ascii=False) + "\n")
    _check_onnx(out, reference)
    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {out} ({total / 1e6:.1f} MB)")


def _check_onnx(out: Path, reference: dict[str, Any]) -> None:
    """The ONNX graphs reproduce the PyTorch embeddings (text at the 77-token padding)."""
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(
        str(out / "text_encoder.onnx"), providers=["CPUExecutionProvider"]
    )
    ids = np.zeros((len(reference["texts"]), CONTEXT_LENGTH), dtype=np.int64)
    for row, entry in enumerate(reference["texts"]):
        ids[row, : len(entry["open_clip_ids"])] = entry["open_clip_ids"]
    mask = (ids != 0).astype(np.int64)
    got = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    want = np.array([entry["embedding"] for entry in reference["texts"]], dtype=np.float32)
    print("text max |onnx - torch|:", float(np.abs(got - want).max()))
    assert np.abs(got - want).max() < 1e-5, "text encoder ONNX differs from torch"


def export_real(args: argparse.Namespace) -> None:
    """Mode A: a real checkpoint (Hugging Face or open_clip) into a package folder."""
    import torch

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.hf:
        from transformers import CLIPModel

        model = CLIPModel.from_pretrained(args.hf).eval()
        image_size = int(model.config.vision_config.image_size)
        dim = int(model.config.projection_dim)
        image_encoder, text_encoder = encoders(model, "hf")
        mean, std = OPENAI_MEAN, OPENAI_STD
        source = {"format": "huggingface", "checkpoint": str(args.hf)}
    else:
        import open_clip

        model, _, _preprocess = open_clip.create_model_and_transforms(
            args.open_clip, pretrained=args.pretrained
        )
        model.eval()
        image_size = int(
            model.visual.image_size[0]
            if isinstance(model.visual.image_size, tuple)
            else model.visual.image_size
        )
        with torch.no_grad():
            dim = int(
                model.encode_text(torch.zeros(1, CONTEXT_LENGTH, dtype=torch.int64)).shape[-1]
            )
        image_encoder, text_encoder = encoders(model, "open_clip")
        mean = tuple(getattr(model.visual, "image_mean", None) or OPENAI_MEAN)
        std = tuple(getattr(model.visual, "image_std", None) or OPENAI_STD)
        source = {"format": "open_clip", "model": args.open_clip, "pretrained": args.pretrained}
    export_onnx(image_encoder, text_encoder, image_size, out)
    write_tokenizer(out / "tokenizer.json")
    write_manifest(out, image_size=image_size, dim=dim, mean=mean, std=std, source=source)
    print(f"wrote {out}; register it with: visionflow models add clip/1 {out}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--tiny-random", action="store_true", help="write the test fixture")
    mode.add_argument("--hf", help="Hugging Face CLIP checkpoint folder or hub id")
    mode.add_argument("--open-clip", help="open_clip model name, e.g. ViT-B-16")
    p.add_argument("--pretrained", help="open_clip pretrained tag or checkpoint file")
    p.add_argument("--out", type=Path, help="package folder to write")
    p.add_argument("--seed", type=int, default=0, help="torch seed for --tiny-random")
    args = p.parse_args(argv)
    if args.tiny_random:
        tiny_random(args.out or FIXTURE, args.seed)
        return 0
    if args.out is None:
        p.error("--out is required with --hf / --open-clip")
    export_real(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
