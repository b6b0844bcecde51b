#!/usr/bin/env python3
"""Small images of every type PainFace must read, with Pillow's decoding as the reference
(run once; outputs committed to Tests/Fixtures/images/).

  .venv/bin/python tools/make_image_fixtures.py

Each NAME.(jpg|png) comes with NAME.rgb: the RGB8 pixels Pillow decodes (raw bytes, row-major).
The source picture is a synthetic 37x23 gradient with edges (odd sizes on purpose).
"""
import os

import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Tests", "Fixtures", "images")


def picture(w=37, h=23):
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // (w - 1)).astype(np.uint8)
    g = (y * 255 // (h - 1)).astype(np.uint8)
    b = (((x // 5 + y // 4) % 2) * 200 + 20).astype(np.uint8)
    return np.stack([r, g, b], axis=2)


def save(img, name, **kw):
    path = os.path.join(OUT, name)
    img.save(path, **kw)
    ref = Image.open(path)
    if ref.mode in ("RGBA", "LA", "PA") or (ref.mode == "P" and "transparency" in ref.info):
        # composite onto black, as PainFace does for alpha
        rgba = ref.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        ref = Image.alpha_composite(bg, rgba)
    rgb = np.asarray(ref.convert("RGB"), dtype=np.uint8)
    rgb.tofile(path.rsplit(".", 1)[0] + "." + path.rsplit(".", 1)[1] + ".rgb")


def main():
    os.makedirs(OUT, exist_ok=True)
    a = picture()
    rgb = Image.fromarray(a, "RGB")
    gray = rgb.convert("L")
    save(rgb, "rgb_baseline.jpg", quality=95)
    save(rgb, "rgb_progressive.jpg", quality=95, progressive=True)
    save(gray, "gray_baseline.jpg", quality=95)
    save(rgb.convert("CMYK"), "cmyk.jpg", quality=95)
    save(rgb, "rgb8.png")
    save(gray, "gray8.png")
    alpha = Image.fromarray(((np.arange(37)[None, :] * 7) % 256).astype(np.uint8).repeat(23, 0), "L")
    la = Image.merge("LA", (gray, alpha))
    save(la, "gray_alpha.png")
    rgba = rgb.copy()
    rgba.putalpha(alpha)
    save(rgba, "rgba8.png")
    save(rgb.convert("P", palette=Image.ADAPTIVE, colors=16), "palette.png")
    g16 = Image.fromarray(np.asarray(gray).astype(np.uint16) * 257)
    save(g16, "gray16.png")
    # Pillow clips I;16 to 255 when converting to RGB; the true 8-bit value is v (v * 257 / 257)
    np.repeat(np.asarray(gray)[:, :, None], 3, axis=2).tofile(os.path.join(OUT, "gray16.png.rgb"))
    # 16-bit RGB through raw PNG writing (Pillow cannot write it): via numpy + zlib
    import struct
    import zlib
    a16 = a.astype(">u2") * 257
    raw = b"".join(b"\x00" + a16[y].tobytes() for y in range(a16.shape[0]))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 37, 23, 16, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    with open(os.path.join(OUT, "rgb16.png"), "wb") as f:
        f.write(png)
    a.tofile(os.path.join(OUT, "rgb16.png.rgb"))   # 16-bit v*257 -> 8-bit v exactly
    print(sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
