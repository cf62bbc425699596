"""The named test images of ``compare_peer_workflows.py``: synthetic shapes, a lossless template
pair, a blank frame, a QR code and an EAN-13 barcode. The same encoded bytes go to both servers.
"""

from __future__ import annotations

import cv2
import numpy as np
from compare_peer import TestImage, encode, shapes


def _png(image: np.ndarray) -> bytes:
    return encode(image, "png", 0)


def _ean13_image(digits: str) -> np.ndarray:
    """A plain EAN-13 barcode (12 digits + computed check digit), 3 px per module, grey-free."""
    left_l = ["0001101", "0011001", "0010011", "0111101", "0100011"]
    left_l += ["0110001", "0101111", "0111011", "0110111", "0001011"]
    right = ["".join("1" if b == "0" else "0" for b in code) for code in left_l]
    left_g = [code[::-1] for code in right]
    parity = ["LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG"]
    parity += ["LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL"]
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits[:12]))
    code = digits[:12] + str((10 - total % 10) % 10)
    first, left, rest = int(code[0]), code[1:7], code[7:]
    bits = "101"
    for d, p in zip(left, parity[first], strict=True):
        bits += (left_l if p == "L" else left_g)[int(d)]
    bits += "01010"
    bits += "".join(right[int(d)] for d in rest)
    bits += "101"
    module = 3
    quiet = 12 * module
    width = len(bits) * module + 2 * quiet
    image = np.full((160, width), 255, np.uint8)
    for i, b in enumerate(bits):
        if b == "1":
            image[20:140, quiet + i * module : quiet + (i + 1) * module] = 0
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)


def _qr_image(text: str) -> np.ndarray:
    code = cv2.QRCodeEncoder.create().encode(text)
    big = cv2.resize(code, None, fx=6, fy=6, interpolation=cv2.INTER_NEAREST)
    image = np.full((320, 400), 255, np.uint8)
    image[30 : 30 + big.shape[0], 60 : 60 + big.shape[1]] = big
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)


def build_images(seed: int) -> dict[str, TestImage]:
    """The named images the cases use; the same bytes go to both servers."""
    out: dict[str, TestImage] = {}
    for name, size in (("shapes", (640, 480)), ("shapes2", (517, 333)), ("big", (1279, 719))):
        sample = shapes.generate(seed, 1, size)[0]
        out[name] = TestImage(name, size[0], size[1], encode(sample.image_bgr, "jpeg", 90))
    # Template matching: the image and a patch cut from its decoded pixels, both lossless.
    sample = shapes.generate(seed + 1, 1, (640, 480))[0]
    out["tm_image"] = TestImage("tm_image", 640, 480, _png(sample.image_bgr))
    patch = sample.image_bgr[150:230, 200:300]
    out["tm_template"] = TestImage("tm_template", 100, 80, _png(patch))
    blank = np.full((480, 640, 3), 128, np.uint8)
    out["blank"] = TestImage("blank", 640, 480, encode(blank, "jpeg", 90))
    qr = _qr_image("visionflow-peer")
    out["qr"] = TestImage("qr", qr.shape[1], qr.shape[0], _png(qr))
    bar = _ean13_image("400638133393")
    out["barcode"] = TestImage("barcode", bar.shape[1], bar.shape[0], _png(bar))
    return out


def image_value(im: TestImage) -> dict[str, str]:
    return {"type": "base64", "value": im.b64}
