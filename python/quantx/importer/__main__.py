"""python -m quantx.importer MODEL --input-shape 1,1,28,28 [-o out.mlir]

Imports one of the example models (``quantx.models``: fashion_cnn,
fashion_mlp, charlm) or ``module:attr`` naming a zero-argument factory that
returns an ``nn.Module``, called on zero tensors (float32; int64 token ids
for charlm) of the given shape. Exits non-zero with a message on errors and
never leaves a partial output file.
"""

import argparse
import importlib
import os
import sys
import tempfile

import torch

from . import UnsupportedOperationError, import_module


def _model(spec):
    from .. import models
    if spec in models.data.MODELS:
        m = models.load(spec)
        return m[0] if isinstance(m, tuple) else m
    if ":" not in spec:
        raise ValueError(f"unknown model {spec!r}: use one of "
                         f"{', '.join(models.data.MODELS)} or module:factory")
    mod, attr = spec.split(":", 1)
    return getattr(importlib.import_module(mod), attr)().eval()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m quantx.importer", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--input-shape", required=True,
                    help="comma-separated static shape of the input, e.g. 1,1,28,28")
    ap.add_argument("--dtype", choices=["float32", "int64"], default=None)
    ap.add_argument("--func-name", default="forward")
    ap.add_argument("-o", "--output", default="-")
    args = ap.parse_args(argv)
    try:
        shape = tuple(int(d) for d in args.input_shape.split(","))
        if any(d < 0 for d in shape):
            raise ValueError("negative dimension")
    except ValueError:
        ap.error(f"bad --input-shape {args.input_shape!r}")
    try:
        model = _model(args.model)
        dtype = args.dtype or ("int64" if args.model == "charlm" else "float32")
        x = torch.zeros(shape, dtype=getattr(torch, dtype))
        text = import_module(model, (x,), func_name=args.func_name)
    except (UnsupportedOperationError, ValueError, TypeError, RuntimeError, IndexError,
            ImportError, AttributeError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    out_dir = os.path.dirname(os.path.abspath(args.output))
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".mlir.tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, args.output)
    except BaseException:
        os.unlink(tmp)
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
