"""Outputs that are not regular files (a FIFO here; /dev/null in practice)
are written in place: the tools' atomic writes (temporary file, rename)
must not replace them."""

import io
import os
import stat
import subprocess
import threading

import numpy as np
import pytest

SRC = os.environ.get("QUANTX_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(os.environ.get("QUANTX_BINARY_DIR", "build"), "bin")
CNN = os.path.join(SRC, "test", "Transforms", "PTQ", "Inputs", "cnn.mlir")
pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(BIN, "quantx-opt")),
                                reason="built without MLIR: no quantx-opt")


def write_through_fifo(tmp_path, command):
    """Runs `command(fifo)` while a thread reads the FIFO; returns what was
    read, after checking the FIFO is still one."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()),
                              daemon=True)
    reader.start()
    try:
        proc = subprocess.run(command(str(fifo)), capture_output=True, text=True, timeout=120)
    finally:
        reader.join(10)
        if reader.is_alive():  # Nothing wrote to the FIFO: unblock the reader.
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("fifo")] == ["fifo"]
    return got[0]


def test_report_to_a_fifo(tmp_path):
    data = write_through_fifo(tmp_path, lambda fifo: [
        os.path.join(BIN, "quantx-opt"), CNN,
        f"-quantx-ptq=mode=weight-int8 report={fifo}", "-o", str(tmp_path / "q.mlir")])
    assert b'"layers"' in data and b'"features.0"' in data


def test_quantx_run_output_to_a_fifo(tmp_path):
    model = tmp_path / "f.mlir"
    model.write_text("func.func @f(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {\n"
                     "  %y = arith.addf %x, %x : tensor<2x3xf32>\n"
                     "  return %y : tensor<2x3xf32>\n}\n")
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.save(tmp_path / "x.npy", x)
    data = write_through_fifo(tmp_path, lambda fifo: [
        os.path.join(BIN, "quantx-run"), str(model), "-e", "f", "--input", str(tmp_path / "x.npy"),
        "--output", fifo])
    assert (np.load(io.BytesIO(data)) == 2 * x).all()
