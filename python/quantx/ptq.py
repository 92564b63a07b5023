"""Post-training quantization driver: calibration through the JIT.

The flow (docs/PTQ.md)::

    instrument  quantx-opt -quantx-insert-observers -quantx-expose-observations
    calibrate   run the instrumented model batch by batch, feed every observed
                tensor to a numeric-core observer, write a statistics JSON
    quantize    quantx-opt -quantx-apply-calibration -quantx-ptq

Running a compiled function is isolated in :func:`run_function` (today the
``quantx-run`` tool in a subprocess). Every error is a :class:`PTQError`
with a message naming the culprit; output files are written atomically, so
a failure never leaves a partial file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

from . import _core

OBSERVER_KINDS = ("min_max", "moving_average_min_max", "histogram",
                  "percentile", "entropy", "mse")
MODES = ("static-int8", "dynamic-int8", "weight-int8", "weight-int4")


class PTQError(Exception):
    """A calibration or quantization error with a user-facing message."""


def _tool(name: str) -> str:
    """Path of a QuantX tool: $QUANTX_BINARY_DIR/bin, the build tree next to
    this package, then PATH."""
    candidates = []
    if os.environ.get("QUANTX_BINARY_DIR"):
        candidates.append(os.path.join(os.environ["QUANTX_BINARY_DIR"], "bin", name))
    here = os.path.dirname(os.path.realpath(__file__))
    candidates.append(os.path.join(here, "..", "..", "build", "bin", name))
    pkg = os.path.dirname(os.path.abspath(__file__))
    candidates.append(os.path.join(pkg, "..", "..", "bin", name))
    for c in candidates:
        if os.path.exists(c):
            return os.path.abspath(c)
    return name


def _run(args: Sequence[str], what: str) -> None:
    proc = subprocess.run(list(args), capture_output=True, text=True)
    if proc.returncode != 0:
        raise PTQError(f"{what} failed:\n{proc.stderr.strip()}")


def _write_json_atomic(path: str, data) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


_compiled = {}  # (path, mtime, size, entry) -> compiled function


def _jit_function(mlir_path: str, entry: str):
    """`entry` of the module at `mlir_path`, compiled in-process once per
    version of the file; None when the JIT library cannot be loaded."""
    try:
        from . import jit
    except (ImportError, OSError):
        return None
    st = os.stat(mlir_path)
    key = (os.path.abspath(mlir_path), st.st_mtime_ns, st.st_size, entry)
    fn = _compiled.get(key)
    if fn is None:
        with open(mlir_path) as f:
            text = f.read()
        try:
            module = jit.compile(text)
            fn = module[entry]
        except KeyError as e:
            raise PTQError(f"running the model failed: {e.args[0]}") from None
        except jit.QuantXError as e:
            raise PTQError(f"compiling the model failed:\n{e}") from None
        # Only the newest version of each file stays compiled.
        for k in [k for k in _compiled if k[0] == key[0] and k[3] == entry]:
            del _compiled[k]
        _compiled[key] = fn
    return fn


def run_function(mlir_path: str, inputs: Sequence[np.ndarray], num_results: int,
                 entry: str = "main") -> List[np.ndarray]:
    """Runs `entry` of a module and returns its results.

    The one place that executes compiled code: in-process through
    :mod:`quantx.jit` (each file compiled once and kept while it is
    unchanged), or ``quantx-run`` when the JIT library is not available."""
    fn = _jit_function(mlir_path, entry)
    if fn is not None:
        from .ir import QuantXError  # loaded with the JIT
        try:
            out = fn(*inputs)
        except (TypeError, ValueError) as e:
            raise PTQError(f"running the model failed: {e}") from None
        except QuantXError as e:
            raise PTQError(f"running the model failed:\n{e}") from None
        out = [] if out is None else list(out) if isinstance(out, tuple) else [out]
        if len(out) != num_results:
            raise PTQError(f"running the model failed: '{entry}' returned "
                           f"{len(out)} results, expected {num_results}")
        return out
    with tempfile.TemporaryDirectory(prefix="quantx-ptq-") as tmp:
        args = [_tool("quantx-run"), mlir_path, "-e", entry]
        for i, a in enumerate(inputs):
            p = os.path.join(tmp, f"in{i}.npy")
            np.save(p, a)
            args += ["--input", p]
        outs = [os.path.join(tmp, f"out{i}.npy") for i in range(num_results)]
        for p in outs:
            args += ["--output", p]
        _run(args, "running the model")
        return [np.load(p) for p in outs]


def instrument(model: str, out_dir: str, kind: str = "min_max",
               num_bins: int = 0, percentile: float = 0.0,
               momentum: float = 0.0, entry: str = "main"):
    """Inserts and exposes observers; returns (module path, function entry
    of the manifest)."""
    if kind not in OBSERVER_KINDS:
        raise PTQError(f"unknown observer kind '{kind}' "
                       f"(expected one of {', '.join(OBSERVER_KINDS)})")
    out = os.path.join(out_dir, "instrumented.mlir")
    manifest = os.path.join(out_dir, "observations.json")
    opts = f"kind={kind}"
    if num_bins:
        opts += f" num-bins={num_bins}"
    if percentile:
        opts += f" percentile={percentile}"
    if momentum:
        opts += f" momentum={momentum}"
    _run([_tool("quantx-opt"), model, f"-quantx-insert-observers={opts}",
          f"-quantx-expose-observations=manifest={manifest}", "-o", out],
         "inserting observers")
    with open(manifest) as f:
        data = json.load(f)
    for fn in data["functions"]:
        if fn["function"] == entry:
            return out, fn
    raise PTQError(f"function '{entry}' has no quantizable layer to observe")


def make_observer(entry: dict):
    """A numeric-core observer for one manifest entry."""
    kind = entry["kind"]
    axis = entry.get("axis")
    bins = int(entry.get("num_bins", 0)) or 2048
    if kind == "min_max":
        return (_core.PerChannelMinMaxObserver(axis) if axis is not None
                else _core.MinMaxObserver())
    if kind == "moving_average_min_max":
        c = float(entry.get("momentum", 0.01))
        return (_core.PerChannelMovingAverageMinMaxObserver(axis, c)
                if axis is not None else _core.MovingAverageMinMaxObserver(c))
    if axis is not None:
        raise PTQError(f"observer '{kind}' of '{entry['name']}' cannot be per channel")
    if kind == "histogram":
        return _core.HistogramObserver(bins, 100.0)
    if kind == "percentile":
        return _core.HistogramObserver(bins, float(entry.get("percentile", 99.99)))
    if kind == "entropy":
        return _core.EntropyObserver(bins)
    if kind == "mse":
        return _core.MSEObserver(_core.QuantScheme(bits=8, signed=False), bins)
    raise PTQError(f"unknown observer kind '{kind}' for '{entry['name']}'")


def _dtype_of(element_type: str):
    return {"f32": np.float32, "f64": np.float64, "f16": np.float16,
            "i8": np.int8, "i32": np.int32, "i64": np.int64}.get(element_type)


def _batches(data, arguments) -> Iterable[List[np.ndarray]]:
    """Normalises calibration data to lists of arrays, one per argument.

    `data` is a .npz path (one array per argument, in key order `arg0`,
    `arg1`, ... or the file's order, split along axis 0 into the model's
    batch size), or an iterable whose items are an array (one-argument
    models) or a sequence of arrays."""
    if isinstance(data, (str, os.PathLike)):
        try:
            npz = np.load(data)
        except (OSError, ValueError) as e:
            raise PTQError(f"cannot read calibration data '{data}': {e}")
        keys = list(npz.keys())
        if len(keys) != len(arguments):
            raise PTQError(f"calibration data '{data}' has {len(keys)} arrays, "
                           f"the model takes {len(arguments)} arguments")
        arrays = [npz[k] for k in keys]
        batch = arguments[0]["shape"][0] if arguments[0]["shape"] else 1
        n = arrays[0].shape[0] if arrays[0].ndim else 0
        if n == 0 or n % batch != 0:
            raise PTQError(f"calibration data '{data}': {n} samples is not a "
                           f"positive multiple of the model's batch size {batch}")
        for i in range(0, n, batch):
            yield [a[i:i + batch] for a in arrays]
        return
    for item in data:
        yield [item] if isinstance(item, np.ndarray) else list(item)


def _check_batch(index: int, batch: List[np.ndarray], arguments) -> List[np.ndarray]:
    if len(batch) != len(arguments):
        raise PTQError(f"calibration batch {index} has {len(batch)} arrays, "
                       f"the model takes {len(arguments)} arguments")
    out = []
    for i, (a, arg) in enumerate(zip(batch, arguments)):
        a = np.asarray(a)
        want = tuple(arg["shape"])
        dtype = _dtype_of(arg.get("element_type", ""))
        if a.shape != want:
            raise PTQError(f"calibration batch {index}, argument {i}: shape "
                           f"{a.shape}, the model expects {want}")
        if dtype is None or a.dtype != dtype:
            raise PTQError(f"calibration batch {index}, argument {i}: dtype "
                           f"{a.dtype}, the model expects {arg.get('element_type')}")
        out.append(np.ascontiguousarray(a))
    return out


def _to_json_numbers(v):
    if isinstance(v, np.ndarray):
        return [float(x) for x in v.reshape(-1)]
    return float(v)


def calibrate(model: str, data, stats_path: str, kind: str = "min_max",
              num_bins: int = 0, percentile: float = 0.0,
              momentum: float = 0.0, entry: str = "main") -> dict:
    """Calibrates `model` on `data` and writes the statistics file.

    Returns the statistics dictionary (the file's content)."""
    with tempfile.TemporaryDirectory(prefix="quantx-calib-") as tmp:
        path, manifest = instrument(model, tmp, kind, num_bins, percentile,
                                    momentum, entry)
        entries = manifest["observations"]
        arguments = manifest["arguments"]
        nres = manifest["num_all_results"]
        observers = {e["name"]: make_observer(e) for e in entries}
        count = 0
        for count, batch in enumerate(_batches(data, arguments), start=1):
            batch = _check_batch(count - 1, batch, arguments)
            results = run_function(path, batch, nres, entry)
            for e in entries:
                t = batch[e["argument"]] if "argument" in e else results[e["result"]]
                observers[e["name"]].observe(np.ascontiguousarray(t, dtype=np.float32))
        if count == 0:
            raise PTQError("no calibration data")
    out = {"format": "quantx-calibration", "version": 1,
           "model": os.path.basename(model), "num_batches": count,
           "observations": {}}
    for e in entries:
        obs = observers[e["name"]]
        mn, mx = obs.min_max()
        rec = {"kind": e["kind"], "min": _to_json_numbers(mn),
               "max": _to_json_numbers(mx)}
        for key in ("axis", "num_bins", "percentile", "momentum"):
            if key in e:
                rec[key] = e[key]
        if "axis" not in e:
            scheme = _core.QuantScheme(bits=8, signed=False)
            scales, zps = obs.compute_params(scheme)
            rec["scale"] = float(np.asarray(scales).reshape(-1)[0])
            rec["zero_point"] = int(np.asarray(zps).reshape(-1)[0])
        out["observations"][e["name"]] = rec
    _write_json_atomic(stats_path, out)
    return out


def _observer_options(stats: Optional[str]) -> str:
    """Pass options that re-create the observers a statistics file was
    collected with (so apply-calibration finds the same kinds)."""
    if not stats:
        return ""
    try:
        with open(stats) as f:
            observations = json.load(f).get("observations", {})
    except (OSError, ValueError, AttributeError):
        return ""  # quantx-opt reports the file's problem itself.
    if not isinstance(observations, dict):
        return ""
    records = [r for r in observations.values()
               if isinstance(r, dict) and "axis" not in r]
    kinds = {r.get("kind") for r in records}
    if len(kinds) != 1 or None in kinds:
        return ""
    opts = f"kind={records[0]['kind']}"
    for key, flag in (("num_bins", "num-bins"), ("percentile", "percentile"),
                      ("momentum", "momentum")):
        if key in records[0]:
            opts += f" {flag}={records[0][key]}"
    return "=" + opts


def _ptq_command(model: str, stats: Optional[str], opts: str, mode: str,
                 group_size: int, keep_float: Sequence[str]) -> List[str]:
    """quantx-opt arguments up to and including -quantx-ptq: observers as
    the statistics were collected, the calibration, the rewrite with `opts`
    added to the mode options."""
    opts = f"mode={mode} {opts}".strip()
    if group_size:
        opts += f" group-size={group_size}"
    if keep_float:
        opts += " keep-float=" + ",".join(keep_float)
    args = [_tool("quantx-opt"), model,
            "-quantx-insert-observers" + _observer_options(stats)]
    if stats:
        args.append(f"-quantx-apply-calibration=stats-file={stats}")
    return args + [f"-quantx-ptq={opts}"]


def quantize(model: str, stats: Optional[str], out_path: str,
             mode: str = "static-int8", group_size: int = 0,
             keep_float: Sequence[str] = (), report: Optional[str] = None) -> Optional[dict]:
    """Rewrites `model` with quantx-ptq; returns the report if asked for."""
    if mode not in MODES:
        raise PTQError(f"unknown mode '{mode}' (expected one of {', '.join(MODES)})")
    if mode == "static-int8" and not stats:
        raise PTQError("static-int8 needs a statistics file (calibrate first)")
    with tempfile.TemporaryDirectory(prefix="quantx-ptq-") as tmp:
        rep = os.path.join(tmp, "report.json")
        tmp_out = os.path.join(tmp, "out.mlir")
        args = _ptq_command(model, stats, f"report={rep}", mode, group_size,
                            keep_float)
        _run(args + ["-canonicalize", "-o", tmp_out], "quantizing")
        with open(rep) as f:
            data = json.load(f)
        _copy_atomic(tmp_out, out_path)
    if report:
        _write_json_atomic(report, data)
    return data


def _regex_escape(name: str) -> str:
    """Escapes a layer name for an LLVM (POSIX extended) regular expression."""
    return "".join("\\" + c if c in ".^$|()[]{}*+?\\" else c for c in name)


def _run_batches(path: str, batches: List[List[np.ndarray]], num_results: int = 1):
    return [run_function(path, b, num_results)[0] for b in batches]


def sensitivity(model: str, stats: Optional[str], data, mode: str = "static-int8",
                group_size: int = 0) -> List[dict]:
    """Ranks layers by the error each adds alone: for every layer, the model
    with only that layer quantized is run on `data` and compared with the
    float model (SQNR of the first result, in dB; lower is more sensitive).

    Returns [{"name", "sqnr_db"}] sorted from most to least sensitive."""
    with tempfile.TemporaryDirectory(prefix="quantx-sens-") as tmp:
        full = quantize(model, stats, os.path.join(tmp, "all.mlir"), mode, group_size)
        names = [l["name"] for l in full["layers"] if l["status"] == "quantized"]
        _, manifest = instrument(model, tmp)
        arguments = manifest["arguments"]
        batches = [_check_batch(i, b, arguments)
                   for i, b in enumerate(_batches(data, arguments))]
        if not batches:
            raise PTQError("no calibration data")
        ref = np.concatenate([r.reshape(-1) for r in _run_batches(model, batches)])
        out = []
        for name in names:
            others = ["^" + _regex_escape(n) + "$" for n in names if n != name]
            path = os.path.join(tmp, "one.mlir")
            quantize(model, stats, path, mode, group_size, keep_float=others)
            got = np.concatenate([r.reshape(-1) for r in _run_batches(path, batches)])
            out.append({"name": name, "sqnr_db": sqnr_db(ref, got)})
    return sorted(out, key=lambda e: e["sqnr_db"])


def _observed_outputs(path: str, manifest: dict, batches) -> Dict[str, np.ndarray]:
    """Runs an instrumented module and gathers each observed tensor (and
    the first result, under "") over all batches."""
    entries = manifest["observations"]
    got: Dict[str, List[np.ndarray]] = {"": []}
    for b in batches:
        results = run_function(path, b, manifest["num_all_results"])
        got[""].append(results[0].reshape(-1))
        for e in entries:
            t = b[e["argument"]] if "argument" in e else results[e["result"]]
            got.setdefault(e["name"], []).append(np.asarray(t).reshape(-1))
    return {k: np.concatenate(v) for k, v in got.items()}


def add_sqnr(report: dict, model: str, stats: Optional[str], data,
             mode: str = "static-int8", group_size: int = 0,
             keep_float: Sequence[str] = ()) -> dict:
    """Adds SQNR figures (dB, quantized against float on `data`) to a
    quantx-ptq report: `sqnr_db` of each layer's output (the tensor after
    its bias and ReLU) and `output_sqnr_db` of the model's first result."""
    with tempfile.TemporaryDirectory(prefix="quantx-sqnr-") as tmp:
        fpath, fman = instrument(model, tmp)
        arguments = fman["arguments"]
        batches = [_check_batch(i, b, arguments)
                   for i, b in enumerate(_batches(data, arguments))]
        if not batches:
            raise PTQError("no data to measure the SQNR on")
        qpath = os.path.join(tmp, "quantized.mlir")
        qman_path = os.path.join(tmp, "quantized-observations.json")
        args = _ptq_command(model, stats, "keep-output-observers=true", mode,
                            group_size, keep_float)
        args += [f"-quantx-expose-observations=manifest={qman_path}", "-o", qpath]
        _run(args, "quantizing with layer outputs exposed")
        with open(qman_path) as f:
            qman = next(fn for fn in json.load(f)["functions"]
                        if fn["function"] == fman["function"])
        ref = _observed_outputs(fpath, fman, batches)
        got = _observed_outputs(qpath, qman, batches)
    for layer in report["layers"]:
        key = layer["name"] + ".output"
        if key in ref and key in got:
            layer["sqnr_db"] = sqnr_db(ref[key], got[key])
    report["output_sqnr_db"] = sqnr_db(ref[""], got[""])
    return report


def _copy_atomic(src: str, dst: str) -> None:
    directory = os.path.dirname(os.path.abspath(dst))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f, open(src, "rb") as s:
            f.write(s.read())
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio in dB (inf when equal)."""
    ref = np.asarray(reference, np.float64)
    err = ref - np.asarray(test, np.float64)
    noise = float(np.sum(err * err))
    if noise == 0.0:
        return float("inf")
    return 10.0 * np.log10(float(np.sum(ref * ref)) / noise)


def format_report(report: dict) -> str:
    """A readable table of a quantx-ptq report."""
    rows = [("layer", "status", "in scale", "in zp", "w scale max", "bytes", "SQNR dB")]
    for l in report["layers"]:
        ws = l.get("weight_scales") or []
        rows.append((l["name"], l["status"],
                     f"{l['input_scale']:.6g}" if "input_scale" in l else "-",
                     str(l.get("input_zero_point", "-")),
                     f"{max(ws):.6g}" if ws else "-",
                     f"{l['bytes_before']} -> {l['bytes_after']}",
                     f"{l['sqnr_db']:.2f}" if "sqnr_db" in l else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m quantx.ptq",
                                description="Calibrate and quantize a float model.")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("calibrate", help="collect statistics into a JSON file")
    c.add_argument("model")
    c.add_argument("--data", required=True, help=".npz calibration data")
    c.add_argument("--stats", required=True, help="output statistics JSON")
    c.add_argument("--kind", default="min_max", choices=OBSERVER_KINDS)
    c.add_argument("--num-bins", type=int, default=0)
    c.add_argument("--percentile", type=float, default=0.0)
    c.add_argument("--momentum", type=float, default=0.0)
    q = sub.add_parser("quantize", help="rewrite the model with quantx-ptq")
    q.add_argument("model")
    q.add_argument("--stats")
    q.add_argument("-o", "--output", required=True)
    q.add_argument("--mode", default="static-int8", choices=MODES)
    q.add_argument("--group-size", type=int, default=0)
    q.add_argument("--keep-float", action="append", default=[])
    q.add_argument("--report")
    q.add_argument("--data", help=".npz data to measure SQNR figures on")
    s = sub.add_parser("sensitivity", help="rank layers by the error each adds alone")
    s.add_argument("model")
    s.add_argument("--stats")
    s.add_argument("--data", required=True, help=".npz data")
    s.add_argument("--mode", default="static-int8", choices=MODES)
    s.add_argument("--group-size", type=int, default=0)
    args = p.parse_args(argv)
    try:
        if args.cmd == "calibrate":
            stats = calibrate(args.model, args.data, args.stats, args.kind,
                              args.num_bins, args.percentile, args.momentum)
            print(f"{len(stats['observations'])} observations over "
                  f"{stats['num_batches']} batches -> {args.stats}")
        elif args.cmd == "quantize":
            rep = quantize(args.model, args.stats, args.output, args.mode,
                           args.group_size, args.keep_float)
            if args.data:
                add_sqnr(rep, args.model, args.stats, args.data, args.mode,
                         args.group_size, args.keep_float)
            if args.report:
                _write_json_atomic(args.report, rep)
            print(format_report(rep))
            if "output_sqnr_db" in rep:
                print(f"output SQNR vs float: {rep['output_sqnr_db']:.2f} dB")
        else:
            for e in sensitivity(args.model, args.stats, args.data, args.mode,
                                 args.group_size):
                print(f"{e['name']}\t{e['sqnr_db']:.2f} dB")
    except PTQError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
