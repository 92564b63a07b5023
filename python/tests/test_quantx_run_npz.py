"""quantx-run on .npz archives: valid ones of every kind numpy writes, and
truncated, bit-flipped and hostile ones, which must end in a clear error
and a non-zero exit (never a crash) and leave no output file."""

import io
import os
import struct
import subprocess
import zipfile

import numpy as np
import pytest

BIN = os.path.join(os.environ.get("QUANTX_BINARY_DIR", "build"), "bin", "quantx-run")
pytestmark = pytest.mark.skipif(not os.path.exists(BIN),
                                reason="built without MLIR: no quantx-run")

MLIR = """
func.func @f(%x: tensor<2x3xf32>, %y: tensor<3xi16>) -> (tensor<2x3xf32>, tensor<3xi16>) {
  %n = arith.negf %x : tensor<2x3xf32>
  %m = arith.muli %y, %y : tensor<3xi16>
  return %n, %m : tensor<2x3xf32>, tensor<3xi16>
}
"""
X = np.array([[0.5, -1, 2], [3, 1e30, -0.0]], np.float32)
Y = np.array([3, -4, 100], np.int16)


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    p = tmp_path_factory.mktemp("npz") / "m.mlir"
    p.write_text(MLIR)
    return p


def run(src, tmp_path, archive_bytes):
    inp, out = tmp_path / "in.npz", tmp_path / "out.npz"
    inp.write_bytes(archive_bytes)
    if out.exists():
        out.unlink()
    r = subprocess.run([BIN, str(src), "-e", "f", "--inputs", str(inp),
                        "--outputs", str(out)], capture_output=True, timeout=60)
    return r, out


def archive(compressed, **arrays):
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("names", ["arg", "arr_", "other"])
def test_valid_archives(src, tmp_path, compressed, names):
    if names == "other":  # neither argN nor arr_N: archive order
        data = archive(compressed, b=X, a=Y)
    else:
        data = archive(compressed, **{f"{names}0": X, f"{names}1": Y})
    r, out = run(src, tmp_path, data)
    assert r.returncode == 0, r.stderr.decode()
    with np.load(out) as z:
        assert z.files == ["result0", "result1"]
        np.testing.assert_array_equal(z["result0"], -X)
        assert z["result1"].dtype == np.int16
        np.testing.assert_array_equal(z["result1"], Y * Y)


def check_rejected(r, out):
    # A negative return code is a signal: a crash.
    err = r.stderr.decode("ascii")  # Messages escape what is not ASCII.
    assert r.returncode == 1, (r.returncode, err)
    assert err.startswith("quantx-run: error: "), err
    assert not out.exists()


@pytest.mark.parametrize("compressed", [False, True])
def test_truncated_archives(src, tmp_path, compressed):
    data = archive(compressed, arg0=X, arg1=Y)
    for cut in sorted(set(np.linspace(0, len(data) - 1, 16).astype(int))):
        check_rejected(*run(src, tmp_path, data[:cut]))


@pytest.mark.parametrize("compressed", [False, True])
def test_bit_flips_never_crash(src, tmp_path, compressed):
    data = archive(compressed, arg0=X, arg1=Y)
    rng = np.random.default_rng(7 + compressed)
    for _ in range(20):
        b = bytearray(data)
        for pos in rng.integers(0, len(b), rng.integers(1, 4)):
            b[pos] ^= 1 << int(rng.integers(0, 8))
        r, out = run(src, tmp_path, bytes(b))
        # A flip may hit a byte nothing reads (a timestamp, say): then the
        # run must succeed with the right results.
        if r.returncode == 0:
            with np.load(out) as z:
                np.testing.assert_array_equal(z["result0"], -X)
        else:
            check_rejected(r, out)


def central_entries(data):
    """Offsets of the central directory entries."""
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        yield pos
        pos = data.find(b"PK\x01\x02", pos + 4)


def test_hostile_sizes_and_offsets(src, tmp_path):
    for compressed in (False, True):
        data = archive(compressed, arg0=X, arg1=Y)
        first = next(central_entries(data))
        for field, value in [(20, 0xFFFFFFF0), (24, 0xFFFFFFF0), (24, 0x7FFFFFFF),
                             (42, 0x7FFFFFF0), (28, 0xFFFF), (30, 0xFFFF)]:
            b = bytearray(data)
            struct.pack_into("<I" if field in (20, 24, 42) else "<H", b,
                             first + field, value)
            check_rejected(*run(src, tmp_path, bytes(b)))
    # Entry count far beyond the directory's size.
    data = archive(False, arg0=X, arg1=Y)
    end = data.rfind(b"PK\x05\x06")
    b = bytearray(data)
    struct.pack_into("<HH", b, end + 8, 0xFFFE, 0xFFFE)
    check_rejected(*run(src, tmp_path, bytes(b)))


def test_unsupported_members(src, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_LZMA) as z:
        z.writestr("arg0.npy", b"x" * 100)
    r, out = run(src, tmp_path, buf.getvalue())
    check_rejected(r, out)
    assert b"compression method 14 is not supported" in r.stderr
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", b"hello")
    r, out = run(src, tmp_path, buf.getvalue())
    check_rejected(r, out)
    assert b"member 'notes.txt' is not a .npy file" in r.stderr
    # A valid archive whose array does not fit the argument.
    r, out = run(src, tmp_path, archive(False, arg0=X, arg1=Y.astype(np.int32)))
    check_rejected(r, out)
    assert b"dtype <i4 does not match argument #1 (<i2)" in r.stderr
