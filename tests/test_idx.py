"""The IDX reader: real layouts read back exactly; every kind of damage named."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from deeplearning.data.idx import IDXFormatError, parse_idx, read_idx

from conftest import write_idx


@pytest.mark.parametrize("compress", [True, False], ids=["gzipped", "raw"])
def test_images_and_labels_read_back_exactly(tmp_path: Path, compress: bool) -> None:
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "i", images, compress)), images)
    read = read_idx(write_idx(tmp_path / "l", labels, compress))
    assert read.dtype == np.uint8 and read.shape == (5,)
    np.testing.assert_array_equal(read, labels)


@pytest.mark.parametrize(
    ("code", "dtype"), [(0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")]
)
def test_other_types_are_big_endian_and_come_back_native(code: int, dtype: str) -> None:
    values = np.array([[1.5, -2.0], [3.0, 40000.0]]).astype(dtype)
    data = bytes([0, 0, code, 2]) + (2).to_bytes(4, "big") * 2 + values.tobytes()
    array = parse_idx(data)
    assert array.dtype.isnative
    np.testing.assert_array_equal(array, values)


def test_wrong_magic_number_is_named(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello, this is text")
    with pytest.raises(IDXFormatError, match=r"notes.txt: wrong magic number 0x68656c6c"):
        read_idx(path)


def test_truncated_file_says_how_much_is_missing(tmp_path: Path) -> None:
    data = gzip.decompress(write_idx(tmp_path / "f", np.zeros((10, 28, 28))).read_bytes())
    (tmp_path / "cut").write_bytes(data[:-100])
    with pytest.raises(IDXFormatError, match=r"cut: truncated: .*7,840 bytes.*7,740"):
        read_idx(tmp_path / "cut")


def test_extra_bytes_are_reported() -> None:
    data = bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + b"\x01\x02\x03\x04"
    with pytest.raises(IDXFormatError, match="longer than its header says"):
        parse_idx(data, "labels")


def test_tiny_and_headerless_files_are_reported() -> None:
    with pytest.raises(IDXFormatError, match="too short for an IDX header"):
        parse_idx(b"\x00\x00")
    with pytest.raises(IDXFormatError, match="truncated header: 3 dimensions need 16 bytes"):
        parse_idx(bytes([0, 0, 8, 3, 0, 0]))


def test_corrupt_gzip_is_reported(tmp_path: Path) -> None:
    good = write_idx(tmp_path / "f.gz", np.zeros((4, 4))).read_bytes()
    (tmp_path / "bad.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(IDXFormatError, match=r"bad.gz: the gzip data is corrupt or truncated"):
        read_idx(tmp_path / "bad.gz")
