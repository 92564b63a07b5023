"""The built package installs with pip (offline, no build isolation) into a
fresh virtual environment and works from there: the numeric core and a JIT
call, away from the build tree."""

import os
import shutil
import subprocess
import sys

import pytest

PKG = os.path.join(os.environ.get("QUANTX_BINARY_DIR", "build"), "python_packages")
pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(PKG, "pyproject.toml"))
    or not os.path.exists(os.path.join(PKG, "quantx", "libQuantXCAPI.so")),
    reason="no built package with the C API")

CHECK = r"""
import os, sys
import numpy as np
import quantx, quantx.jit
assert quantx.__file__.startswith(sys.prefix), quantx.__file__
cm = quantx.jit.compile('''
func.func @f(%a: tensor<3xf32>) -> tensor<3xf32> {
  %s = arith.mulf %a, %a : tensor<3xf32>
  return %s : tensor<3xf32>
}''')
y = cm["f"](np.array([1, -2, 3], np.float32))
assert y.tolist() == [1, 4, 9], y
print("ok", quantx._core.__name__)
"""


def test_pip_install_into_a_fresh_venv(tmp_path):
    venv = tmp_path / "venv"
    # Without pip of its own: the system's pip and setuptools serve.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages",
                    "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    # pip builds in the source folder: work on a copy, keep the build clean.
    src = tmp_path / "src"
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([python, "-m", "pip", "install", "--no-build-isolation",
                        "--no-deps", "--no-index", "--quiet", str(src)],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([python, "-c", CHECK], capture_output=True, text=True,
                       env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "ok quantx._core"
