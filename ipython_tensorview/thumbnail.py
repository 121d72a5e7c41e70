"""Small pictures of 2-D tensors (heatmaps) and image-shaped 3-D tensors, for the HTML display.

The tensor is strided down to at most ``size`` elements a side on its own device; only that sample
crosses to the host. It is coloured there and encoded as a PNG (zlib and struct suffice for that): a
heatmap as indices into the colours it uses (one byte a pixel, where RGBA takes four), an image as RGBA.
"""

from __future__ import annotations

import functools
import math
import struct
import zlib
from typing import NamedTuple

import numpy as np

from .adapters.torch import host_values, picturable

# viridis at ten evenly spaced points: perceptually uniform, readable on light and dark backgrounds
_VIRIDIS = np.array(
    [
        (68, 1, 84), (72, 40, 120), (62, 73, 137), (49, 104, 142), (38, 130, 142),
        (31, 158, 137), (53, 183, 121), (110, 206, 88), (181, 222, 43), (253, 231, 37),
    ],
    dtype=np.float64,
)
IMAGE_CHANNELS = (1, 3, 4)


def image_layout(shape: tuple[int, ...]) -> str | None:
    """"heatmap" for 2-D, "chw" or "hwc" for image-shaped 3-D, None for anything else."""
    if len(shape) == 2 and min(shape) > 0:
        return "heatmap"
    if len(shape) == 3 and min(shape) > 0:
        if shape[0] in IMAGE_CHANNELS and shape[2] not in IMAGE_CHANNELS:
            return "chw"
        if shape[2] in IMAGE_CHANNELS:
            return "hwc"
        if shape[0] in IMAGE_CHANNELS:
            return "chw"
    return None


class Picture(NamedTuple):
    """A thumbnail: (H, W) indices into ``palette``, an (N, 4) table of RGBA colours (a heatmap's, of the
    colours it uses), or (H, W, 4) RGBA pixels where ``palette`` is None (an image's)."""

    pixels: np.ndarray
    palette: np.ndarray | None = None

    def rgba(self) -> np.ndarray:
        """The (H, W, 4) uint8 picture."""
        return self.pixels if self.palette is None else self.palette[self.pixels]


def thumbnail(t, size: int, host: np.ndarray | None = None) -> Picture | None:
    """A picture of ``t`` at most ``size`` a side, or None where none applies.
    ``host``: ``t`` whole on the host already, as the display converts it (a small tensor's printed values)."""
    if not picturable(t):
        return None
    layout = image_layout(tuple(t.shape))
    if layout is None:
        return None
    height_dim, width_dim = {"heatmap": (0, 1), "chw": (1, 2), "hwc": (0, 1)}[layout]
    steps = [1] * t.dim()
    step = math.ceil(max(t.shape[height_dim], t.shape[width_dim]) / size)  # one for both sides: the shape kept
    for dim in (height_dim, width_dim):
        # except across a long, thin tensor, which keeps a quarter of ``size`` samples (all, where it has fewer)
        steps[dim] = max(1, min(step, t.shape[dim] // max(1, size // 4)))
    if host is not None and steps[height_dim] == steps[width_dim] == 1:
        sample = host
    else:
        sample = host_values(t.detach()[tuple(slice(None, None, s) for s in steps)])  # no graph of the slicing
    if layout == "heatmap":
        if sample.size <= FEW_PIXELS:
            return _few_pixels_heatmap(sample)
        return _heatmap(_normalise(sample.astype(np.float64)))
    if layout == "chw":
        sample = np.moveaxis(sample, 0, -1)
    return Picture(_image(sample))


def _normalise(values: np.ndarray) -> np.ndarray:
    """Finite values scaled to [0, 1] between their min and max; NaN/Inf stay NaN.

    Halved before subtracting, so that a range wider than float64's (-1e308 to 1e308) does not overflow.
    """
    halves = values / 2
    low, high = float(np.minimum.reduce(halves, axis=None)), float(np.maximum.reduce(halves, axis=None))
    if math.isfinite(low) and math.isfinite(high):  # NaN and Inf make one of them non-finite: none here
        if high > low:
            return (halves - low) / (high - low)
        return np.full(values.shape, 0.5)
    finite = np.isfinite(values)
    out = np.full(values.shape, np.nan)
    if finite.any():
        kept = halves[finite]
        low, high = kept.min(), kept.max()
        out[finite] = (kept - low) / (high - low) if high > low else 0.5
    return out


@functools.cache
def _viridis_table() -> np.ndarray:
    """RGBA for a transparent entry (for NaN), then 255 evenly spaced positions along the colour map."""
    table = np.zeros((256, 4), dtype=np.uint8)
    positions = np.linspace(0, len(_VIRIDIS) - 1, 255)
    for channel in range(3):
        table[1:, channel] = np.interp(positions, np.arange(len(_VIRIDIS)), _VIRIDIS[:, channel]).round()
    table[1:, 3] = 255
    table.flags.writeable = False
    return table


# a heatmap of at most this many pixels is coloured in Python's floats (see _few_pixels_heatmap): inside a
# display, a (3, 4) tensor's costs 7% less than by NumPy's route, a (6, 6) one's about as much, an (8, 8) one's
# no less
FEW_PIXELS = 32


def _few_pixels_heatmap(sample: np.ndarray) -> Picture:
    """``_heatmap(_normalise(sample))`` of a few pixels, the same colours from Python's floats: the dozen NumPy
    calls of that route cost more than a loop over so few values, and more again inside a display, where
    each is code the repr of the cell before pushed out of the processor's caches."""
    halves = [float(value) / 2 for value in sample.ravel().tolist()]  # float(): bools and Python ints too
    finite = [half for half in halves if math.isfinite(half)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    span = high - low
    colours = _viridis_bytes()
    rgba = bytearray().join(
        colours[int((half - low) / span * 254 + 1.5) if span else 128] if math.isfinite(half) else colours[0]
        for half in halves
    )
    return Picture(np.frombuffer(rgba, np.uint8).reshape(*sample.shape, 4))  # writable, as NumPy's route makes it


@functools.cache
def _viridis_bytes() -> tuple[bytes, ...]:
    """Each RGBA entry of :func:`_viridis_table` as 4 bytes."""
    return tuple(entry.tobytes() for entry in _viridis_table())


# a heatmap of more pixels than this is indexed: below, its palette would outweigh its pixels' other 3 bytes
INDEXED_PIXELS = 256


def _heatmap(unit: np.ndarray) -> Picture:
    """Values in [0, 1] coloured from the map; NaN transparent. A large picture as indices into the colours
    it uses, a small one as RGBA."""
    levels = unit * 254 + 1.5
    if not math.isfinite(float(np.add.reduce(levels, axis=None))):
        levels = np.where(np.isnan(levels), 0, levels)
    levels = levels.astype(np.uint8)
    if levels.size <= INDEXED_PIXELS:
        return Picture(_viridis_table()[levels])
    used = np.flatnonzero(np.bincount(levels.ravel(), minlength=256))
    if len(used) == 256:
        return Picture(levels, _viridis_table())
    renumbered = np.zeros(256, dtype=np.uint8)
    renumbered[used] = np.arange(len(used))
    return Picture(renumbered[levels], _viridis_table()[used])


def _image(pixels: np.ndarray) -> np.ndarray:
    """(H, W, C) values as RGBA: uint8 as is, floats in [0, 1] scaled, anything else min-max scaled."""
    if pixels.dtype == np.uint8:
        scaled = pixels.astype(np.float64) / 255
    elif pixels.dtype.kind == "f" and _within_unit_range(pixels):
        scaled = pixels.astype(np.float64)
    else:
        scaled = _normalise(pixels.astype(np.float64))
    scaled = np.nan_to_num(scaled, nan=0.0)
    channels = scaled.shape[-1]
    rgb = np.repeat(scaled, 3, axis=-1) if channels == 1 else scaled[..., :3]
    alpha = scaled[..., 3:] if channels == 4 else np.ones((*scaled.shape[:2], 1))
    return (np.concatenate([rgb, alpha], axis=-1) * 255).round().astype(np.uint8)


def _within_unit_range(pixels: np.ndarray) -> bool:
    finite = pixels[np.isfinite(pixels)]
    return finite.size > 0 and finite.min() >= 0 and finite.max() <= 1


def png(pixels: np.ndarray, palette: np.ndarray | None = None) -> bytes:
    """Encode (H, W, 4) uint8 RGBA pixels as an 8-bit RGBA PNG, or (H, W) uint8 indices into an (N, 4)
    RGBA ``palette`` as an 8-bit indexed one (a quarter of the bytes).

    A few scanlines (up to ``STORED_BYTES``, a 16x16 RGBA picture's) are stored as they are: deflating a
    16x16 RGBA heatmap saves 15% of its kilobyte and takes seven times as long. Larger pictures have every
    row filtered with Sub (each byte as its difference to the one a pixel to its left: small numbers where
    colours change gradually, and a palette's colours run in the colour map's order) and deflated."""
    height, width = pixels.shape[:2]
    depth = 4 if palette is None else 1  # bytes a pixel
    stride = width * depth
    if height * (1 + stride) <= STORED_BYTES:  # no filter: it would save nothing here
        raw = pixels.tobytes()
        idat = zlib.compress(b"".join(b"\0" + raw[row : row + stride] for row in range(0, len(raw), stride)), 0)
    else:
        rows = pixels.reshape(height, stride)
        scanlines = np.empty((height, 1 + stride), dtype=np.uint8)
        scanlines[:, 0] = 1  # the filter type of each row: Sub
        scanlines[:, 1 : 1 + depth] = rows[:, :depth]
        np.subtract(rows[:, depth:], rows[:, :-depth], out=scanlines[:, 1 + depth :])  # modulo 256, as Sub wants
        idat = _deflated(scanlines)
    header = struct.pack(">IIBBBBB", width, height, 8, 6 if palette is None else 3, 0, 0, 0)
    chunks = [_chunk(b"IHDR", header)]
    if palette is not None:
        chunks.append(_chunk(b"PLTE", palette[:, :3].tobytes()))
        alpha, see_through = palette[:, 3], np.flatnonzero(palette[:, 3] != 255)
        if see_through.size:  # the alpha of each entry up to the last that is not opaque
            chunks.append(_chunk(b"tRNS", alpha[: see_through[-1] + 1].tobytes()))
    return b"".join((b"\x89PNG\r\n\x1a\n", *chunks, _chunk(b"IDAT", idat), _chunk(b"IEND", b"")))


# up to this many bytes of scanlines (a 16x16 RGBA picture's), the IDAT stores them as they are
STORED_BYTES = 16 * (1 + 16 * 4)


def _deflated(scanlines: np.ndarray) -> bytes:
    """Filtered scanlines as a zlib stream, deflated with runs alone (zlib's Z_RLE, which libpng suggests for
    filtered images), at a third to a half of zlib's default level 6 in time: a 64x64 heatmap of noise
    (indexed) or a 200x200 image's 64x64 sample (RGBA) comes out as small as level 6 makes it, a smooth
    heatmap 2.5 times as large (1 KB against 0.4)."""
    # a window no larger than the data: the same stream, without setting up (and clearing) 32 KiB of it
    window = min(15, max(9, (scanlines.nbytes - 1).bit_length()))
    deflate = zlib.compressobj(1, zlib.DEFLATED, window, 8, zlib.Z_RLE)
    return deflate.compress(scanlines.data) + deflate.flush()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))
