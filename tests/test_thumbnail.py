import math
import struct
import zlib

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from ipython_tensorview.thumbnail import (
    FEW_PIXELS,
    STORED_BYTES,
    _heatmap,
    _normalise,
    image_layout,
    png,
    thumbnail,
)


def thumbnail_rgba(t, size):
    picture = thumbnail(t, size)
    return None if picture is None else picture.rgba()


def _decode_png(data: bytes) -> np.ndarray:
    """A minimal reader for the PNGs png() writes: one IDAT, RGBA8 or 8-bit indexed (as RGBA), rows filtered
    with None, Sub or Up."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, {}
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = body
        position += 12 + length
    width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert depth == 8 and colour in (3, 6)
    channels = 4 if colour == 6 else 1
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, 1 + width * channels)
    pixels = np.zeros((height, width, channels), np.uint8)
    for y, (kind, *line) in enumerate(rows):
        line = np.array(line, np.uint8).reshape(width, channels)
        if kind == 0:  # None
            pixels[y] = line
        elif kind == 1:  # Sub: each pixel plus its left neighbour, modulo 256
            pixels[y] = np.cumsum(line, axis=0, dtype=np.uint8)
        else:  # Up: plus the pixel above
            assert kind == 2 and y > 0
            pixels[y] = line + pixels[y - 1]
    if colour == 6:
        assert b"PLTE" not in chunks
        return pixels
    palette = np.frombuffer(chunks[b"PLTE"], np.uint8).reshape(-1, 3)
    alpha = np.full(len(palette), 255, np.uint8)
    alpha[: len(chunks.get(b"tRNS", b""))] = np.frombuffer(chunks.get(b"tRNS", b""), np.uint8)
    assert pixels.max() < len(palette)
    return np.concatenate([palette, alpha[:, None]], axis=1)[pixels[..., 0]]


@pytest.mark.parametrize(
    "shape, layout",
    [((5, 7), "heatmap"), ((3, 32, 32), "chw"), ((32, 32, 3), "hwc"), ((1, 8, 8), "chw"), ((8, 8, 4), "hwc"),
     ((5, 6, 7), None), ((4,), None), ((2, 3, 4, 5), None), ((0, 4), None)],
)
def test_image_layout(shape, layout):
    assert image_layout(shape) == layout


@pytest.mark.parametrize("height, width", [(1, 1), (3, 4), (5, 9), (64, 64), (128, 200)])
def test_png_round_trip(height, width):
    """Every size, from one pixel to more than the smallest compression window holds, in RGBA and indexed."""
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    np.testing.assert_array_equal(_decode_png(png(rgba)), rgba)
    smooth = np.broadcast_to(np.arange(width, dtype=np.uint8)[None, :, None], (height, width, 4)).copy()
    np.testing.assert_array_equal(_decode_png(png(smooth)), smooth)
    palette = rng.integers(0, 256, (256, 4), dtype=np.uint8)
    for entries, alpha in ((256, None), (3, 255), (7, 0)):  # with a transparent entry, and without
        table = palette[:entries].copy()
        if alpha is not None:
            table[:, 3] = 255
            table[entries // 2, 3] = alpha
        indices = rng.integers(0, entries, (height, width), dtype=np.uint8)
        np.testing.assert_array_equal(_decode_png(png(indices, table)), table[indices])


def test_a_heatmap_is_an_indexed_png_of_the_colours_it_uses():
    from ipython_tensorview.thumbnail import INDEXED_PIXELS

    t = torch.tensor([[0.0, 1.0, math.nan], [1.0, 0.5, 0.0]]).repeat(1, INDEXED_PIXELS // 6 + 1)
    picture = thumbnail(t, 1000)
    assert picture.pixels.shape == t.shape and len(picture.palette) == 4  # transparent, and three colours
    rgba = picture.rgba()
    np.testing.assert_array_equal(rgba[0, 2], [0, 0, 0, 0])
    np.testing.assert_array_equal(rgba[0, 0], [68, 1, 84, 255])  # viridis's ends: dark purple, yellow
    np.testing.assert_array_equal(rgba[0, 1], [253, 231, 37, 255])
    np.testing.assert_array_equal(_decode_png(png(*picture)), rgba)
    small = thumbnail(t[:, :6], 1000)  # a palette would outweigh it
    assert small.palette is None
    np.testing.assert_array_equal(small.pixels, rgba[:, :6])
    noise = thumbnail(torch.randn(64, 64, generator=torch.Generator().manual_seed(0)), 64)
    assert len(noise.palette) > 150 and len(png(*noise)) < 64 * 65 + 1024  # a byte a pixel, and the palette


def test_png_stores_a_small_picture_and_deflates_a_larger_one():
    noise = np.random.default_rng(0).integers(0, 256, (16, 16, 4), dtype=np.uint8)
    assert 16 * (1 + 16 * 4) == STORED_BYTES
    # signature, IHDR, IDAT of a zlib header, one stored block's 5 bytes, the scanlines and the Adler-32, IEND
    assert len(png(noise)) == 8 + (12 + 13) + (12 + 2 + 5 + STORED_BYTES + 4) + 12
    smooth = np.broadcast_to(np.arange(64, dtype=np.uint8)[None, :, None], (64, 64, 4)).copy()
    assert len(png(smooth)) < 64 * (1 + 64 * 4) / 20  # each row's differences: one run


def test_heatmap_is_strided_down_on_the_device():
    t = torch.arange(1000 * 500, dtype=torch.float32).reshape(1000, 500)
    rgba = thumbnail_rgba(t, 64)
    assert rgba.shape == (63, 32, 4)  # every 16th row and column: the tensor's shape
    assert (rgba[..., 3] == 255).all()
    # viridis runs from dark purple (smallest) to yellow (largest)
    np.testing.assert_array_equal(rgba[0, 0, :3], [68, 1, 84])
    np.testing.assert_array_equal(rgba[-1, -1, :3], [253, 231, 37])


@pytest.mark.parametrize("shape, samples", [
    ((3, 130, 64), (44, 22)),  # a tall image stays tall: every 3rd row and column
    ((130, 64, 3), (44, 22)),
    ((2000, 3000), (43, 64)),
    ((2, 1000), (2, 63)),  # long and thin: every row across it
    ((512, 50257), (16, 64)),  # a quarter of the size across it, not one row
])
def test_a_thumbnail_keeps_the_tensors_shape(shape, samples):
    rgba = thumbnail_rgba(torch.rand(shape, generator=torch.Generator().manual_seed(0)), 64)
    assert rgba.shape[:2] == samples


def test_non_finite_pixels_are_transparent():
    t = torch.tensor([[0.0, float("nan")], [float("inf"), 1.0]])
    rgba = thumbnail_rgba(t, 8)
    assert rgba[0, 1, 3] == 0 and rgba[1, 0, 3] == 0 and rgba[0, 0, 3] == 255


def test_uint8_images_keep_their_pixels():
    hwc = torch.randint(0, 256, (6, 5, 3), dtype=torch.uint8)
    rgba = thumbnail_rgba(hwc, 64)
    np.testing.assert_array_equal(rgba[..., :3], hwc.numpy())
    assert (rgba[..., 3] == 255).all()
    chw = hwc.permute(2, 0, 1)
    np.testing.assert_array_equal(thumbnail_rgba(chw, 64), rgba)


def test_unit_float_images_are_scaled_to_bytes():
    image = torch.tensor([[[0.0, 1.0], [0.5, 0.25]]])  # one channel, C,H,W
    rgba = thumbnail_rgba(image, 8)
    np.testing.assert_array_equal(rgba[..., 0], [[0, 255], [128, 64]])
    np.testing.assert_array_equal(rgba[..., 0], rgba[..., 2])


def test_no_thumbnail_for_other_shapes_or_kinds():
    assert thumbnail_rgba(torch.ones(10), 8) is None
    assert thumbnail_rgba(torch.eye(3).to_sparse(), 8) is None
    assert thumbnail_rgba(torch.ones(3, 3, dtype=torch.complex64), 8) is None


_FEW_PIXEL_SHAPES = hnp.array_shapes(min_dims=2, max_dims=2, max_side=FEW_PIXELS).filter(
    lambda shape: shape[0] * shape[1] <= FEW_PIXELS)
_FEW_PIXEL_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 1e308, -1e308, 5e-324, math.nan, math.inf, -math.inf]),
)


@st.composite
def _few_pixels(draw):
    """Floats of every width (float64's cast down, overflowing to Inf), integers beyond float64's precision,
    bytes and bools."""
    shape = draw(_FEW_PIXEL_SHAPES)
    kind = draw(st.sampled_from(["float64", "float32", "float16", "int64", "uint8", "bool"]))
    if kind.startswith("float"):
        with np.errstate(all="ignore"):
            return draw(hnp.arrays(np.float64, shape, elements=_FEW_PIXEL_FLOATS)).astype(kind)
    if kind == "int64":
        return draw(hnp.arrays(np.int64, shape, elements=st.integers(-2**63, 2**63 - 1)))
    return draw(hnp.arrays(kind, shape))


@given(_few_pixels())
def test_a_few_pixels_are_coloured_as_many_are(sample):
    """The loop over a few pixels gives each the colour NumPy's route gives it: NaN and Inf, ranges beyond
    float64's, one value, integers that float64 rounds."""
    with np.errstate(all="ignore"):
        expected = _heatmap(_normalise(sample.astype(np.float64))).rgba()
    picture = thumbnail(torch.from_numpy(sample.copy()), FEW_PIXELS, host=sample)
    assert picture.palette is None and picture.pixels.flags.writeable  # as the NumPy route's
    np.testing.assert_array_equal(picture.pixels, expected)
