"""Post-training quantization driver: calibration through the JIT.

The flow (docs/PTQ.md)::

    instrument  quantx-opt -quantx-insert-observers -quantx-expose-observations
    calibrate   run the instrumented model batch by batch, feed every observed
                tensor to a numeric-core observer, write a statistics JSON
    quantize    quantx-opt -quantx-apply-calibration -quantx-ptq

Running a compiled function is isolated in :func:`run_function` (the
in-process JIT, ``quantx-run`` in a subprocess where the JIT library cannot
be loaded). Every error is a :class:`PTQError`
with a message naming the culprit; output files are written together once
everything else succeeded, each atomically (:func:`_write_outputs`), so a
failure leaves no partial or stale file.
"""

from __future__ import annotations

import argparse
import json
import numbers
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path
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
    """Runs a tool; a failure is a PTQError with its error output (bytes
    that are not UTF-8 replaced)."""
    try:
        proc = subprocess.run(list(args), capture_output=True, text=True,
                              errors="replace")
    except OSError as e:
        raise PTQError(f"{what} failed: cannot run '{args[0]}': {e.strerror}") from None
    if proc.returncode < 0:  # Killed by a signal: a crash of the tool.
        # The diagnostics before LLVM's crash report; not its stack dump.
        text = proc.stderr
        for marker in ("PLEASE submit a bug report", "Stack dump:"):
            text = text.split(marker)[0]
        try:
            sig = signal.Signals(-proc.returncode).name
        except ValueError:
            sig = f"signal {-proc.returncode}"
        raise PTQError(f"{what} failed: {os.path.basename(args[0])} crashed ({sig})"
                       + (f" after:\n{text.strip()}" if text.strip() else "")
                       + "\n(is the input truncated or malformed?)")
    if proc.returncode != 0:
        raise PTQError(f"{what} failed:\n{proc.stderr.strip()}")


def _quote(name: str, value: str) -> str:
    """`value` in double or single quotes, which MLIR's pass-option parser
    strips (taking spaces, commas and brackets inside literally); a value
    it cannot pass unchanged is a PTQError."""
    for q in ('"', "'"):
        if q not in value and "\0" not in value and value == value.strip(" \t\n\v\f\r"):
            return q + value + q
    raise PTQError(f"{name} {value!r} cannot be passed to quantx-opt: it has both "
                   "kinds of quotes, a NUL or leading or trailing blanks")


def _option(name: str, value) -> str:
    """`name=value` for a pass-option string: a string quoted, a list of
    strings as {"a",'b'} (each element quoted, for the list's comma
    splitting), so that no value can end early or add other options."""
    if isinstance(value, (list, tuple)):
        return f"{name}={{{','.join(_quote(name, v) for v in value)}}}"
    return f"{name}={_quote(name, value)}"


def _json_bytes(data) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def _output_target(path) -> str:
    """The file that output `path` writes (symbolic links resolved); a
    path that cannot be one (empty, a directory, in a directory that does
    not exist or cannot be written) is a PTQError naming it."""
    path = os.fspath(path)
    if not path:
        raise PTQError("cannot write to an empty output path")
    target = os.path.realpath(path)
    if os.path.isdir(target):
        raise PTQError(f"cannot write '{path}': it is a directory")
    if path.endswith(os.sep):
        raise PTQError(f"cannot write '{path}': it names a directory (ends in '{os.sep}')")
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise PTQError(f"cannot write '{path}': no directory '{directory}'")
    special = os.path.exists(target) and not os.path.isfile(target)
    if not os.access(target if special else directory, os.W_OK):
        raise PTQError(f"cannot write '{path}': permission denied")
    return target


def _check_outputs(*paths) -> None:
    """Checks output paths (None: not asked for) before any work; two
    outputs of one command may not be the same file."""
    seen = {}
    for path in paths:
        if path is None:
            continue
        target = _output_target(path)
        if target in seen:
            raise PTQError(f"outputs '{seen[target]}' and '{path}' are the same file")
        seen[target] = path


def _arg_path(path) -> str:
    """`path` as a tool's positional argument: one that begins with '-'
    would be read as an option, so it gets a './' in front."""
    path = os.fspath(path)
    return os.path.join(".", path) if path.startswith("-") else path


def _put(f, data) -> None:
    """Writes `data` to the open file `f`: bytes, or a Path whose content is
    copied in chunks (a quantized model can be large)."""
    if isinstance(data, Path):
        with open(data, "rb") as src:
            shutil.copyfileobj(src, f, 1 << 20)
    else:
        f.write(data)


def _write_outputs(outputs) -> None:
    """Writes the output files [(path, bytes or a Path to copy)] (a None
    path is skipped),
    all or none as far as the file system allows: each to a new file
    beside its target (mode from the umask, or the mode of the file it
    replaces), all renamed into place only once all are written. A
    symbolic link's target is replaced, so the link stays; a device or
    FIFO is written in place, last. Errors are PTQErrors naming the path."""
    staged, special = [], []  # (path, temporary file, target), (path, target, data)
    path = None
    try:
        for path, data in outputs:
            if path is None:
                continue
            target = _output_target(path)
            if os.path.exists(target) and not os.path.isfile(target):
                special.append((path, target, data))
                continue
            tmp = os.path.join(os.path.dirname(target), f".tmp-{os.urandom(8).hex()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            staged.append((path, tmp, target))
            with os.fdopen(fd, "wb") as f:
                _put(f, data)
            if os.path.exists(target):
                os.chmod(tmp, os.stat(target).st_mode & 0o777)
        for path, tmp, target in staged:
            os.replace(tmp, target)
        for path, target, data in special:
            with open(target, "wb") as f:
                _put(f, data)
    except OSError as e:
        raise PTQError(f"cannot write '{path}': {e.strerror or e}") from None
    finally:
        for _, tmp, _ in staged:
            if os.path.lexists(tmp):
                os.unlink(tmp)


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
        with open(mlir_path, "rb") as f:
            text = f.read()  # MLIR text or bytecode, as the parser reads it
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
        args = [_tool("quantx-run"), _arg_path(mlir_path), "-e", entry]
        for i, a in enumerate(inputs):
            p = os.path.join(tmp, f"in{i}.npy")
            np.save(p, a)
            args += ["--input", p]
        outs = [os.path.join(tmp, f"out{i}.npy") for i in range(num_results)]
        for p in outs:
            args += ["--output", p]
        _run(args, "running the model")
        return [np.load(p) for p in outs]


# The most histogram bins an observer takes (32 times the default 2048; the
# entropy observer's search takes time quadratic in them).
MAX_NUM_BINS = 1 << 16


def _check_observer(kind: str, num_bins: int = 0, percentile: float = 0.0,
                   momentum: float = 0.0) -> None:
    """Checks observer settings (0: the default) before any work: the
    entropy observer needs 256 to MAX_NUM_BINS histogram bins (its
    narrowest candidate range is 256 bins wide), the others 2 to
    MAX_NUM_BINS; a percentile is in (0, 100], a momentum in (0, 1]."""
    if kind not in OBSERVER_KINDS:
        raise PTQError(f"unknown observer kind {kind!r} "
                       f"(expected one of {', '.join(OBSERVER_KINDS)})")
    low = 256 if kind == "entropy" else 2
    if num_bins and not (isinstance(num_bins, numbers.Integral)
                         and low <= num_bins <= MAX_NUM_BINS):
        raise PTQError(f"num_bins of observer '{kind}' must be an integer in "
                       f"[{low}, {MAX_NUM_BINS}], got {num_bins!r}")
    if percentile and not (isinstance(percentile, numbers.Real) and 0 < percentile <= 100):
        raise PTQError(f"percentile must be in (0, 100], got {percentile!r}")
    if momentum and not (isinstance(momentum, numbers.Real) and 0 < momentum <= 1):
        raise PTQError(f"momentum must be in (0, 1], got {momentum!r}")


def instrument(model: str, out_dir: str, kind: str = "min_max",
               num_bins: int = 0, percentile: float = 0.0,
               momentum: float = 0.0, entry: Optional[str] = None):
    """Inserts and exposes observers; returns (module path, function entry
    of the manifest). `entry` names the function; by default `main`, or the
    module's one function with quantizable layers."""
    _check_observer(kind, num_bins, percentile, momentum)
    out = os.path.join(out_dir, "instrumented.mlir")
    manifest = os.path.join(out_dir, "observations.json")
    opts = [_option("kind", kind)]
    if num_bins:
        opts.append(f"num-bins={int(num_bins)}")
    if percentile:
        opts.append(f"percentile={float(percentile)!r}")
    if momentum:
        opts.append(f"momentum={float(momentum)!r}")
    _run([_tool("quantx-opt"), _arg_path(model), "-quantx-insert-observers=" + " ".join(opts),
          "-quantx-expose-observations=" + _option("manifest", manifest), "-o", out],
         "inserting observers")
    with open(manifest) as f:
        data = json.load(f)
    functions = {fn["function"]: fn for fn in data["functions"]}
    if entry is None:
        if "main" in functions or len(functions) != 1:
            entry = "main"
        else:
            entry = next(iter(functions))
    if entry in functions:
        return out, functions[entry]
    others = f" (functions with layers: {', '.join(sorted(functions))})" if functions else ""
    raise PTQError(f"function '{entry}' has no quantizable layer to observe{others}")


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


# Element types of model arguments that data can feed, as numpy dtypes.
ARGUMENT_DTYPES = {"f32": np.float32, "f64": np.float64, "f16": np.float16,
                   "i8": np.int8, "i32": np.int32, "i64": np.int64}


def _dtype_of(element_type: str):
    return ARGUMENT_DTYPES.get(element_type)


def read_arrays(path, purpose: str = "calibration") -> Dict[str, np.ndarray]:
    """The arrays of an .npz file by name, in the file's order (an .npy
    file: its one array, as `arr_0`), read whole: a missing, truncated or
    malformed file is a :class:`PTQError` naming it."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return {"arr_0": loaded}
        with loaded as npz:
            arrays = {k: npz[k] for k in npz.files}
    except MemoryError as e:  # a header declaring a huge shape
        raise PTQError(f"cannot read {purpose} data '{path}': too large ({e})") from None
    except (OSError, ValueError, EOFError, RuntimeError, zipfile.BadZipFile,
            zlib.error) as e:  # RuntimeError: an encrypted or unsupported member
        raise PTQError(f"cannot read {purpose} data '{path}': not a readable "
                       f".npz or .npy file ({e})") from None
    for k, a in arrays.items():
        if not isinstance(a, np.ndarray):  # npz gives other members' raw bytes
            raise PTQError(f"cannot read {purpose} data '{path}': member '{k}' "
                           "is not an .npy array")
    return arrays


def _batches(data, arguments, purpose: str = "calibration") -> Iterable[List[np.ndarray]]:
    """Normalises calibration data to lists of arrays, one per argument.

    `data` is a .npz path (one array per argument, in key order `arg0`,
    `arg1`, ... or the file's order, split along axis 0 into the model's
    batch size), such arrays already read (a dict by name, as
    :func:`read_arrays` returns), one array of samples (one-argument
    models; split the same way), or an iterable whose items are an array
    (one-argument models) or a sequence of arrays."""
    if isinstance(data, (np.ndarray, dict, str, os.PathLike)):
        if isinstance(data, np.ndarray):
            arrays, what = [data], f"the {purpose} array"
        elif isinstance(data, dict):
            arrays, what = list(data.values()), f"the {purpose} data"
        else:
            arrays = list(read_arrays(data, purpose).values())
            what = f"{purpose} data '{data}'"
        if len(arrays) != len(arguments):
            raise PTQError(f"{what} has {len(arrays)} arrays, "
                           f"the model takes {len(arguments)} arguments")
        batch = arguments[0]["shape"][0] if arguments[0]["shape"] else 1
        n = arrays[0].shape[0] if arrays[0].ndim else 0
        if n == 0 or n % batch != 0:
            raise PTQError(f"{what}: {n} samples is not a positive multiple "
                           f"of the model's batch size {batch}")
        for i in range(0, n, batch):
            yield [a[i:i + batch] for a in arrays]
        return
    for item in data:
        yield [item] if isinstance(item, np.ndarray) else list(item)


def _check_batch(index: int, batch: List[np.ndarray], arguments,
                 purpose: str = "calibration") -> List[np.ndarray]:
    if len(batch) != len(arguments):
        raise PTQError(f"{purpose} batch {index} has {len(batch)} arrays, "
                       f"the model takes {len(arguments)} arguments")
    out = []
    for i, (a, arg) in enumerate(zip(batch, arguments)):
        a = np.asarray(a)
        want = tuple(arg["shape"])
        dtype = _dtype_of(arg.get("element_type", ""))
        if a.shape != want:
            raise PTQError(f"{purpose} batch {index}, argument {i}: shape "
                           f"{a.shape}, the model expects {want}")
        if dtype is None or a.dtype != dtype:
            raise PTQError(f"{purpose} batch {index}, argument {i}: dtype "
                           f"{a.dtype}, the model expects {arg.get('element_type')}")
        if a.dtype.kind == "f":
            bad = int(a.size - np.count_nonzero(np.isfinite(a)))
            if bad:
                raise PTQError(f"{purpose} batch {index}, argument {i}: {bad} NaN or "
                               f"infinite values ({purpose} data must be finite)")
        out.append(np.ascontiguousarray(a))
    return out


def _to_json_numbers(v):
    if isinstance(v, np.ndarray):
        return [float(x) for x in v.reshape(-1)]
    return float(v)


def calibrate(model: str, data, stats_path: str, kind: str = "min_max",
              num_bins: int = 0, percentile: float = 0.0,
              momentum: float = 0.0, entry: Optional[str] = None,
              progress=None, progress_seconds: float = 2.0) -> dict:
    """Calibrates `model` on `data` and writes the statistics file
    (`entry`: the function, as for :func:`instrument`). `progress`, if
    given, is called with a line of text at most every `progress_seconds`
    while batches run.

    Returns the statistics dictionary (the file's content)."""
    _check_outputs(stats_path)
    with tempfile.TemporaryDirectory(prefix="quantx-calib-") as tmp:
        path, manifest = instrument(model, tmp, kind, num_bins, percentile,
                                    momentum, entry)
        entry = manifest["function"]
        entries = manifest["observations"]
        arguments = manifest["arguments"]
        nres = manifest["num_all_results"]
        observers = {e["name"]: make_observer(e) for e in entries}
        # Per-channel sums of the layers' inputs (bias correction).
        sums = {e["name"]: np.zeros(e["shape"][e["mean_axis"]]) for e in entries
                if "mean_axis" in e}
        counts = dict.fromkeys(sums, 0)
        count = 0
        start = last = time.perf_counter()
        for count, batch in enumerate(_batches(data, arguments), start=1):
            batch = _check_batch(count - 1, batch, arguments)
            results = run_function(path, batch, nres, entry)
            for e in entries:
                t = batch[e["argument"]] if "argument" in e else results[e["result"]]
                t = np.ascontiguousarray(t, dtype=np.float32)
                if not np.all(np.isfinite(t)):
                    raise PTQError(f"calibration batch {count - 1}: '{e['name']}' has NaN "
                                   "or infinite values (the float model overflows on "
                                   "this data)")
                observers[e["name"]].observe(t)
                if e["name"] in sums:
                    axis = e["mean_axis"]
                    others = tuple(a for a in range(t.ndim) if a != axis)
                    sums[e["name"]] += t.sum(axis=others, dtype=np.float64)
                    counts[e["name"]] += t.size // t.shape[axis]
            now = time.perf_counter()
            if progress and now - last >= progress_seconds:
                progress(f"calibrating: {count} batches in {now - start:.1f} s")
                last = now
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
        if e["name"] in sums:
            rec["mean_axis"] = e["mean_axis"]
            rec["channel_mean"] = _to_json_numbers(sums[e["name"]] / counts[e["name"]])
        if "axis" not in e:
            scheme = _core.QuantScheme(bits=8, signed=False)
            scales, zps = obs.compute_params(scheme)
            rec["scale"] = float(np.asarray(scales).reshape(-1)[0])
            rec["zero_point"] = int(np.asarray(zps).reshape(-1)[0])
        out["observations"][e["name"]] = rec
    _write_outputs([(stats_path, _json_bytes(out))])
    return out


# The kinds select_observer tries by default: the PTQ observers. The moving
# average (QAT's observer) is left out: its range depends on batch order.
SELECT_KINDS = ("min_max", "histogram", "percentile", "entropy", "mse")


def select_observer(model: str, data, validation, stats_path: str,
                    kinds: Sequence[str] = SELECT_KINDS, labels=None,
                    entry: Optional[str] = None, progress=None,
                    **observer) -> dict:
    """Chooses the activation observer of a static int8 model: for each of
    `kinds`, calibrates `model` on `data` (as :func:`calibrate`), quantizes
    it static int8 and runs it on `validation` (data as for
    :func:`calibrate`, images the calibration did not see), beside the
    float model. With `labels` (an integer array, or the name of the
    validation .npz's array of them) the most accurate kind wins and the
    output SQNR against float breaks ties; without, the highest SQNR wins.
    Full ties go to the kind listed first. The winner's statistics are
    written to `stats_path`, with the scores of every kind under
    "selection"; `observer` passes `num_bins`, `percentile` or `momentum`.

    Returns that "selection" record: {"observer", "criterion",
    "candidates": [{"kind", "output_sqnr_db", "accuracy"?}]}."""
    from .evaluate import _check_label_shape, _check_labels, _split_labels
    if not isinstance(data, (np.ndarray, dict, str, os.PathLike)):
        data = list(data)  # calibrated on once per kind
    if not isinstance(validation, (np.ndarray, dict, str, os.PathLike)):
        validation = list(validation)
    kinds = list(kinds)
    if not kinds:
        raise PTQError("no observer kind to select from")
    for kind in kinds:
        _check_observer(kind, **observer)
    _check_outputs(stats_path)
    if len(set(kinds)) != len(kinds):
        raise PTQError("an observer kind is listed twice")
    validation, labels = _split_labels(labels, validation)
    say = progress or (lambda line: None)
    with tempfile.TemporaryDirectory(prefix="quantx-select-") as tmp:
        batches, _, manifest = _model_batches(model, validation, tmp, entry,
                                              "validation")
        entry = manifest["function"]

        def first_results(path):
            return np.concatenate([run_function(path, b, 1, entry)[0] for b in batches])

        reference = first_results(model)
        if labels is not None:
            _check_labels(labels, reference.shape[0])
            _check_label_shape(labels, reference, entry)
        candidates = []
        for kind in kinds:
            stats = os.path.join(tmp, f"{kind}.json")
            calibrate(model, data, stats, kind, entry=entry, **observer)
            quantized = os.path.join(tmp, f"{kind}.mlir")
            quantize(model, stats, quantized, "static-int8")
            out = first_results(quantized)
            row = {"kind": kind, "output_sqnr_db": sqnr_db(reference, out)}
            line = f"observer {kind}: output SQNR {row['output_sqnr_db']:.2f} dB"
            if labels is not None:
                row["accuracy"] = float(np.mean(out.argmax(-1) == labels))
                line += f", accuracy {row['accuracy'] * 100:.2f} %"
            say(line + " on the validation data")
            candidates.append(row)
        score = ((lambda r: (r["accuracy"], r["output_sqnr_db"])) if labels is not None
                 else (lambda r: r["output_sqnr_db"]))
        best = max(candidates, key=score)  # max() keeps the first of ties
        selection = {"observer": best["kind"], "candidates": candidates,
                     "criterion": "accuracy, then output SQNR" if labels is not None
                     else "output SQNR"}
        with open(os.path.join(tmp, f"{best['kind']}.json")) as f:
            stats = json.load(f)
        stats["selection"] = selection
        _write_outputs([(stats_path, _json_bytes(stats))])
    say(f"selected observer {best['kind']} ({selection['criterion']} on the "
        "validation data)")
    return selection


def _observer_options(stats: Optional[str]) -> str:
    """Pass options that re-create the observers a statistics file was
    collected with (so apply-calibration finds the same kinds). A kind
    that is not one of OBSERVER_KINDS, or settings that are not numbers,
    are PTQErrors; a file quantx-opt cannot read gives none (quantx-opt
    reports its problem)."""
    if not stats:
        return ""
    try:
        with open(stats) as f:
            observations = json.load(f).get("observations", {})
    except (OSError, ValueError, AttributeError, RecursionError):
        return ""  # quantx-opt reports the file's problem itself.
    if not isinstance(observations, dict):
        return ""
    records = {name: r for name, r in observations.items()
               if isinstance(r, dict) and "axis" not in r}
    for name, r in records.items():
        if "kind" in r and r["kind"] not in OBSERVER_KINDS:
            raise PTQError(f"statistics file '{stats}': observation '{name}' has "
                           f"unknown observer kind {json.dumps(r['kind'])[:40]}")
        for key, types in (("num_bins", (int,)), ("percentile", (int, float)),
                           ("momentum", (int, float))):
            if key in r and type(r[key]) not in types:
                raise PTQError(f"statistics file '{stats}': '{key}' of observation "
                               f"'{name}' is {json.dumps(r[key])[:40]}, not a number")
    kinds = {r.get("kind") for r in records.values()}
    if len(kinds) != 1 or None in kinds:
        return ""
    first = next(iter(records.values()))
    opts = [_option("kind", first["kind"])]
    for key, flag in (("num_bins", "num-bins"), ("percentile", "percentile"),
                      ("momentum", "momentum")):
        if key in first:
            opts.append(f"{flag}={first[key]!r}")
    return "=" + " ".join(opts)


def _ptq_command(model: str, stats: Optional[str], opt: str, mode: str,
                 group_size: int, keep_float: Sequence[str],
                 bias_correction: bool = False,
                 keep_int8: Sequence[str] = ()) -> List[str]:
    """quantx-opt arguments up to and including -quantx-ptq: observers as
    the statistics were collected, the calibration, the rewrite with `opt`
    (one option, as _option makes it) added to the mode options."""
    if not isinstance(group_size, numbers.Integral):
        raise PTQError(f"group_size must be an integer, got {group_size!r}")
    opts = [_option("mode", mode), opt]
    if group_size:
        opts.append(f"group-size={int(group_size)}")
    if bias_correction:
        opts.append("bias-correction=true")
    if keep_float:
        opts.append(_option("keep-float", list(keep_float)))
    if keep_int8:
        opts.append(_option("keep-int8", list(keep_int8)))
    args = [_tool("quantx-opt"), _arg_path(model),
            "-quantx-insert-observers" + _observer_options(stats)]
    if stats:
        args.append("-quantx-apply-calibration=" + _option("stats-file", stats))
    return args + ["-quantx-ptq=" + " ".join(opts)]


def quantize(model: str, stats: Optional[str], out_path: str,
             mode: str = "static-int8", group_size: int = 0,
             keep_float: Sequence[str] = (), report: Optional[str] = None,
             bias_correction: bool = False,
             keep_int8: Sequence[str] = ()) -> Optional[dict]:
    """Rewrites `model` with quantx-ptq; returns the report. With
    `bias_correction`, each layer's bias is corrected for the mean error of
    its quantized weights on the calibration data (any mode; needs
    `stats`). In weight-int4 mode, layers whose names match a `keep_int8`
    pattern get 8-bit weights."""
    if mode not in MODES:
        raise PTQError(f"unknown mode '{mode}' (expected one of {', '.join(MODES)})")
    if mode == "static-int8" and not stats:
        raise PTQError("static-int8 needs a statistics file (calibrate first)")
    if bias_correction and not stats:
        raise PTQError("bias correction needs a statistics file (calibrate first)")
    _check_outputs(out_path, report)
    with tempfile.TemporaryDirectory(prefix="quantx-ptq-") as tmp:
        rep = os.path.join(tmp, "report.json")
        tmp_out = os.path.join(tmp, "out.mlir")
        args = _ptq_command(model, stats, _option("report", rep), mode, group_size,
                            keep_float, bias_correction, keep_int8)
        _run(args + ["-canonicalize", "-cse", "-o", tmp_out], "quantizing")
        with open(rep) as f:
            data = json.load(f)
        _write_outputs([(out_path, Path(tmp_out)),
                        (report, _json_bytes(data))])
    return data


def _regex_escape(name: str) -> str:
    """Escapes a layer name for an LLVM (POSIX extended) regular expression."""
    return "".join("\\" + c if c in ".^$|()[]{}*+?\\" else c for c in name)


def _model_batches(model: str, data, tmp: str, entry: Optional[str],
                   purpose: str = "calibration"):
    """Instruments `model` in `tmp` and splits `data` into the batches its
    function `entry` takes, each checked against the arguments (shape and
    dtype; errors name the data by `purpose`); returns (batches,
    instrumented module path, manifest entry)."""
    path, manifest = instrument(model, tmp, entry=entry)
    arguments = manifest["arguments"]
    batches = [_check_batch(i, b, arguments, purpose)
               for i, b in enumerate(_batches(data, arguments, purpose))]
    if not batches:
        raise PTQError("no data to run the model on")
    return batches, path, manifest


def _first_result(path: str, batches, entry: str) -> np.ndarray:
    """The first result of `entry` in `path` over all batches, flattened."""
    return np.concatenate([run_function(path, b, 1, entry)[0].reshape(-1)
                           for b in batches])


def _keep_exactly(names: Sequence[str]) -> List[str]:
    """keep-float (or keep-int8) patterns that match exactly these layer
    names."""
    return ["^" + _regex_escape(n) + "$" for n in names]


def sensitivity(model: str, stats: Optional[str], data, mode: str = "static-int8",
                group_size: int = 0, keep_float: Sequence[str] = (),
                entry: Optional[str] = None,
                bias_correction: bool = False,
                keep_int8: Sequence[str] = ()) -> List[dict]:
    """Ranks layers by the error each adds alone: for every layer, the model
    with only that layer quantized is run on `data` and compared with the
    float model (SQNR of the first result, in dB; lower is more sensitive).
    Layers that `keep_float` keeps in float are not ranked; those `keep_int8`
    names are ranked in 8 bits (weight-int4 mode). Residual
    additions and average poolings, which static int8 quantizes where a
    quantized layer reads them, stay float in these runs, so that each
    figure is the layer's own error.

    Returns [{"name", "sqnr_db"}] sorted from most to least sensitive."""
    with tempfile.TemporaryDirectory(prefix="quantx-sens-") as tmp:
        full = quantize(model, stats, os.path.join(tmp, "all.mlir"), mode, group_size,
                        keep_float, bias_correction=bias_correction,
                        keep_int8=keep_int8)
        names = [l["name"] for l in full["layers"] if l["status"] == "quantized"]
        others = [e["name"] for key in ("adds", "pools") for e in full.get(key, [])]
        keep_float = list(keep_float) + _keep_exactly(others)
        batches, _, manifest = _model_batches(model, data, tmp, entry)
        entry = manifest["function"]
        ref = _first_result(model, batches, entry)
        out = []
        for name in names:
            path = os.path.join(tmp, "one.mlir")
            quantize(model, stats, path, mode, group_size,
                     list(keep_float) + _keep_exactly([n for n in names if n != name]),
                     bias_correction=bias_correction, keep_int8=keep_int8)
            out.append({"name": name,
                        "sqnr_db": sqnr_db(ref, _first_result(path, batches, entry))})
    return sorted(out, key=lambda e: e["sqnr_db"])


PROMOTIONS = ("float", "int8")


def mixed_precision(model: str, stats: Optional[str], data, out_path: str,
                    target_sqnr_db: float, mode: str = "static-int8",
                    group_size: int = 0, keep_float: Sequence[str] = (),
                    max_float_layers: Optional[int] = None,
                    report: Optional[str] = None, progress=None,
                    entry: Optional[str] = None,
                    bias_correction: bool = False,
                    keep_int8: Sequence[str] = (),
                    promote_to: str = "float") -> dict:
    """Automatic mixed precision: quantizes `model`, keeping in float the
    fewest layers, most sensitive first (:func:`sensitivity` on `data`),
    for the output SQNR against the float model on `data` to reach
    `target_sqnr_db`. With `promote_to="int8"` (weight-int4 mode only) the
    layers are given 8-bit weights instead of being kept in float: the
    smaller model, where 8 bits suffice.

    Residual additions and average poolings follow their readers (static
    int8 quantizes one that a quantized layer reads), and each step's
    output SQNR includes them.

    `keep_float` (and `keep_int8`) patterns apply in any case; at most
    `max_float_layers` more layers are promoted (unlimited when None). A
    target that cannot be reached within that is a :class:`PTQError`, and
    nothing is written. Returns the quantx-ptq report with
    `output_sqnr_db` and a `mixed_precision` record: the target, the
    sensitivity ranking, the output SQNR of each step, `promote_to` and the
    promoted layers (`float_layers`, or `int8_layers`). `progress`, if
    given, is called with a line of text per step."""
    if not np.isfinite(target_sqnr_db):
        raise PTQError("the target SQNR must be a finite number of dB")
    if max_float_layers is not None and max_float_layers < 0:
        raise PTQError("max_float_layers must be >= 0")
    if promote_to not in PROMOTIONS:
        raise PTQError(f"unknown promotion '{promote_to}' (expected float or int8)")
    if promote_to == "int8" and mode != "weight-int4":
        raise PTQError("promoting layers to int8 needs mode weight-int4")
    _check_outputs(out_path, report)
    say = progress or (lambda line: None)
    ranking = sensitivity(model, stats, data, mode, group_size, keep_float, entry,
                          bias_correction, keep_int8)
    say("sensitivity (SQNR with only that layer quantized, most sensitive first): " +
        ", ".join(f"{e['name']} {e['sqnr_db']:.2f} dB" for e in ranking))
    limit = len(ranking) if max_float_layers is None else min(max_float_layers, len(ranking))
    key = f"{promote_to}_layers"
    where = "kept in float" if promote_to == "float" else "in int8"
    with tempfile.TemporaryDirectory(prefix="quantx-mixed-") as tmp:
        batches, _, manifest = _model_batches(model, data, tmp, entry)
        entry = manifest["function"]
        ref = _first_result(model, batches, entry)
        steps = []
        path = os.path.join(tmp, "step.mlir")
        for count in range(limit + 1):
            kept = [e["name"] for e in ranking[:count]]
            floats, int8s = list(keep_float), list(keep_int8)
            (floats if promote_to == "float" else int8s).extend(_keep_exactly(kept))
            rep = quantize(model, stats, path, mode, group_size, floats,
                           bias_correction=bias_correction, keep_int8=int8s)
            sqnr = sqnr_db(ref, _first_result(path, batches, entry))
            steps.append({key: kept, "output_sqnr_db": sqnr})
            say(f"{count} layer(s) {where}{': ' + ', '.join(kept) if kept else ''}"
                f" -> output SQNR {sqnr:.2f} dB (target {target_sqnr_db:g} dB)")
            if sqnr >= target_sqnr_db:
                break
        else:
            raise PTQError(
                f"target output SQNR {target_sqnr_db:g} dB not reached: "
                f"{steps[-1]['output_sqnr_db']:.2f} dB with the {limit} most "
                f"sensitive layer(s) {where} (of {len(ranking)} quantizable)")
        rep["output_sqnr_db"] = sqnr
        rep["mixed_precision"] = {"target_sqnr_db": target_sqnr_db,
                                  "sensitivity": ranking, "steps": steps,
                                  "promote_to": promote_to, key: kept}
        _write_outputs([(out_path, Path(path)), (report, _json_bytes(rep))])
    return rep


def _promoted(mixed: dict, keep_float: List[str], keep_int8: List[str]) -> None:
    """Adds the layers a mixed_precision record promoted to the patterns."""
    record = mixed["mixed_precision"]
    if record.get("promote_to", "float") == "float":
        keep_float += _keep_exactly(record["float_layers"])
    else:
        keep_int8 += _keep_exactly(record["int8_layers"])


def _import_torch(model, batch: int, sample_shape, dtype, path: str) -> str:
    """Writes `model` (a torch.nn.Module) imported for inputs of
    [batch, *sample_shape] of numpy `dtype` (token ids of a language model
    are integers) to `path`."""
    import torch

    from . import importer
    example = torch.from_numpy(np.zeros((batch, *sample_shape), dtype=dtype))
    try:
        text = importer.import_module(model.eval(), (example,))
    except (importer.UnsupportedOperationError, TypeError, ValueError, RuntimeError) as e:
        raise PTQError(f"importing the PyTorch model failed: {e}") from None
    with open(path, "w") as f:
        f.write(text)
    return path


def quantize_model(model, data, out_path: str, mode: str = "static-int8",
                   kind: str = "min_max", group_size: int = 0,
                   keep_float: Sequence[str] = (),
                   target_sqnr_db: Optional[float] = None,
                   max_float_layers: Optional[int] = None,
                   report: Optional[str] = None, stats_path: Optional[str] = None,
                   entry: Optional[str] = None, batch_size: Optional[int] = None,
                   calibration_batch: int = 100, progress=None,
                   bias_correction: bool = False, float_out: Optional[str] = None,
                   keep_int8: Sequence[str] = (), promote_to: str = "float",
                   validation=None, labels=None, **observer) -> dict:
    """The whole PTQ flow in one call: calibrate `model` on `data` (static
    int8), rewrite it in `mode`, with `keep_float` layers (and `keep_int8`
    layers in weight-int4) and, given `target_sqnr_db`, the automatic mixed
    precision of :func:`mixed_precision` (layers promoted to `promote_to`),
    measure the SQNR of every layer and of the
    output against the float model on `data`, and write the quantized
    model to `out_path`. Returns the report (:func:`format_report` prints
    it); `report` also writes it, `stats_path` keeps the statistics.

    `model` is the path of a float MLIR module, or a ``torch.nn.Module``,
    which is imported (:mod:`quantx.importer`) twice: for calibration in
    batches of `calibration_batch` samples (or the largest divisor of the
    sample count below it), and for the output in batches of `batch_size`
    (default: the calibration batch). `data` is what :func:`calibrate`
    takes; for a PyTorch model, one array of samples. `observer` passes
    `num_bins`, `percentile` or `momentum` to the observers.
    `bias_correction` corrects each layer's bias for the mean error of its
    quantized weights (:func:`quantize`); other modes than static int8 are
    then calibrated too. `float_out` also writes the float model the
    quantized one was made from (for a PyTorch model, its import at the
    output batch size): with `stats_path` and `report`, what
    :class:`quantx.monitor.Monitor` compares the deployed model with.

    `kind="auto"` chooses the observer with :func:`select_observer` on
    `validation` data (with `labels`, by accuracy first); the report then
    has its "observer_selection" record."""
    if mode not in MODES:
        raise PTQError(f"unknown mode '{mode}' (expected one of {', '.join(MODES)})")
    if kind == "auto" and validation is None:
        raise PTQError("observer kind 'auto' needs validation data to choose on")
    if kind != "auto" and (validation is not None or labels is not None):
        raise PTQError("validation data and labels choose the observer: they need "
                       "observer kind 'auto'")
    _check_outputs(out_path, report, stats_path, float_out)
    say = progress or (lambda line: None)
    if not isinstance(data, (np.ndarray, str, os.PathLike)):
        data = list(data)  # read by each step: calibration, ranking, SQNR
    with tempfile.TemporaryDirectory(prefix="quantx-flow-") as tmp:
        if isinstance(model, (str, os.PathLike)):
            calib_model = out_model = str(model)
        else:
            if not isinstance(data, np.ndarray) or data.ndim < 1 or not len(data):
                raise PTQError("a PyTorch model needs its calibration data as "
                               "one non-empty array of samples")
            n = len(data)
            batch = max(d for d in range(1, min(calibration_batch, n) + 1) if n % d == 0)
            calib_model = _import_torch(model, batch, data.shape[1:], data.dtype,
                                        os.path.join(tmp, "calibration.mlir"))
            out_model = calib_model
            if batch_size is not None and batch_size != batch:
                if batch_size < 1:
                    raise PTQError("batch_size must be >= 1")
                out_model = _import_torch(model, batch_size, data.shape[1:], data.dtype,
                                          os.path.join(tmp, "model.mlir"))
            say(f"imported the PyTorch model (calibration batch {batch}, "
                f"output batch {batch_size or batch})")
        stats, selection = None, None
        if mode == "static-int8" or bias_correction:
            stats = os.path.join(tmp, "stats.json")  # written with the rest
            t0 = time.perf_counter()
            if kind == "auto":
                selection = select_observer(calib_model, data, validation, stats,
                                            labels=labels, entry=entry,
                                            progress=progress, **observer)
                say(f"chose observer {selection['observer']} in "
                    f"{time.perf_counter() - t0:.1f} s")
            else:
                info = calibrate(calib_model, data, stats, kind, entry=entry,
                                 progress=progress, **observer)
                say(f"calibrated ({kind}) on {info['num_batches']} batches in "
                    f"{time.perf_counter() - t0:.1f} s")
        keep, keep8 = list(keep_float), list(keep_int8)
        if target_sqnr_db is not None:
            mixed = mixed_precision(calib_model, stats, data, os.path.join(tmp, "mixed.mlir"),
                                    target_sqnr_db, mode, group_size, keep,
                                    max_float_layers, progress=progress, entry=entry,
                                    bias_correction=bias_correction, keep_int8=keep8,
                                    promote_to=promote_to)
            _promoted(mixed, keep, keep8)
        elif max_float_layers is not None or promote_to != "float":
            flag = "max_float_layers" if max_float_layers is not None else "promote_to"
            raise PTQError(f"{flag} needs target_sqnr_db")
        staged = os.path.join(tmp, "quantized.mlir")
        rep = quantize(out_model, stats, staged, mode, group_size, keep,
                       bias_correction=bias_correction, keep_int8=keep8)
        if target_sqnr_db is not None:
            rep["mixed_precision"] = mixed["mixed_precision"]
        if selection is not None:
            rep["observer_selection"] = selection
        add_sqnr(rep, calib_model, stats, data, mode, group_size, keep, entry,
                 bias_correction, keep8)
        say(f"quantized ({mode}): output SQNR {rep['output_sqnr_db']:.2f} dB against float")
        # Nothing is written unless every step succeeded.
        outputs = [(out_path, Path(staged)), (report, _json_bytes(rep))]
        if stats and stats_path:
            outputs.append((stats_path, Path(stats)))
        if float_out:
            outputs.append((float_out, Path(out_model)))
        _write_outputs(outputs)
    return rep


def _observed_outputs(path: str, manifest: dict, batches) -> Dict[str, np.ndarray]:
    """Runs an instrumented module and gathers each observed tensor (and
    the first result, under "") over all batches."""
    entries = manifest["observations"]
    got: Dict[str, List[np.ndarray]] = {"": []}
    for b in batches:
        results = run_function(path, b, manifest["num_all_results"],
                               manifest["function"])
        got[""].append(results[0].reshape(-1))
        for e in entries:
            t = b[e["argument"]] if "argument" in e else results[e["result"]]
            got.setdefault(e["name"], []).append(np.asarray(t).reshape(-1))
    return {k: np.concatenate(v) for k, v in got.items()}


def add_sqnr(report: dict, model: str, stats: Optional[str], data,
             mode: str = "static-int8", group_size: int = 0,
             keep_float: Sequence[str] = (), entry: Optional[str] = None,
             bias_correction: bool = False, keep_int8: Sequence[str] = ()) -> dict:
    """Adds SQNR figures (dB, quantized against float on `data`) to a
    quantx-ptq report: `sqnr_db` of each layer's output (the tensor after
    its bias and ReLU) and `output_sqnr_db` of the model's first result."""
    with tempfile.TemporaryDirectory(prefix="quantx-sqnr-") as tmp:
        batches, fpath, fman = _model_batches(model, data, tmp, entry)
        qpath = os.path.join(tmp, "quantized.mlir")
        qman_path = os.path.join(tmp, "quantized-observations.json")
        args = _ptq_command(model, stats, "keep-output-observers=true", mode,
                            group_size, keep_float, bias_correction, keep_int8)
        args += ["-quantx-expose-observations=" + _option("manifest", qman_path),
                 "-o", qpath]
        _run(args, "quantizing with layer outputs exposed")
        with open(qman_path) as f:
            qman = next((fn for fn in json.load(f)["functions"]
                         if fn["function"] == fman["function"]), None)
        if qman is None:
            raise PTQError(f"the quantized '{fman['function']}' exposes no layer output")
        ref = _observed_outputs(fpath, fman, batches)
        got = _observed_outputs(qpath, qman, batches)
    for layer in report["layers"]:
        key = layer["name"] + ".output"
        if key in ref and key in got:
            layer["sqnr_db"] = sqnr_db(ref[key], got[key])
    for add in report.get("adds", []):
        key = add.get("observation")
        if key in ref and key in got:
            add["sqnr_db"] = sqnr_db(ref[key], got[key])
    report["output_sqnr_db"] = sqnr_db(ref[""], got[""])
    return report


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio in dB (inf when equal)."""
    ref = np.asarray(reference, np.float64)
    err = ref - np.asarray(test, np.float64)
    noise = float(np.sum(err * err))
    if noise == 0.0:
        return float("inf")
    return 10.0 * np.log10(float(np.sum(ref * ref)) / noise)


def _table(rows) -> List[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def _float_reasons(entries) -> List[str]:
    """Why entries stay float, once per reason (keep-float is asked for)."""
    why: Dict[str, List[str]] = {}
    for e in entries:
        if e["status"] == "float" and e.get("reason", "keep-float") != "keep-float":
            why.setdefault(e["reason"], []).append(e["name"])
    return [f"float: {', '.join(names)}: {reason}" for reason, names in why.items()]


def _sqnr_cell(entry) -> str:
    return f"{entry['sqnr_db']:.2f}" if "sqnr_db" in entry else "-"


def format_report(report: dict) -> str:
    """Readable tables of a quantx-ptq report: the layers, then the residual
    additions and average poolings, each followed by why those left float
    are."""
    rows = [("layer", "status", "weights", "in scale", "in zp", "w scale max", "bytes",
             "SQNR dB")]
    for l in report["layers"]:
        ws = l.get("weight_scales") or []
        weights = "-"
        if "weight_bits" in l:
            weights = f"int{l['weight_bits']}"
            if l.get("weight_granularity") == "per_group":
                weights += f" g{l['weight_group']}"
        rows.append((l["name"], l["status"], weights,
                     f"{l['input_scale']:.6g}" if "input_scale" in l else "-",
                     str(l.get("input_zero_point", "-")),
                     f"{max(ws):.6g}" if ws else "-",
                     (f"{l['bytes_before']} -> {l['bytes_after']}"
                      if l.get("bytes_before") else "-"),  # no weights
                     _sqnr_cell(l)))
    lines = _table(rows) + _float_reasons(report["layers"])
    lines += [f"weights: {l['name']}: {l['weight_note']}"
              for l in report["layers"] if l.get("weight_note")]
    short = {"output": "out", "input": "in"}
    for key, title, operands in (("adds", "addition", ("lhs", "rhs", "output")),
                                 ("pools", "avg pooling", ("input", "output"))):
        entries = report.get(key, [])
        if not entries:
            continue
        rows = [(title, "status", *(f"{short.get(k, k)} scale" for k in operands), "out zp",
                 "SQNR dB")]
        for e in entries:
            rows.append((e["name"], e["status"] + (" +relu" if e.get("relu_fused") else ""),
                         *(f"{e[k + '_scale']:.6g}" if k + "_scale" in e else "-"
                           for k in operands),
                         str(e.get("output_zero_point", "-")), _sqnr_cell(e)))
        lines += [""] + _table(rows) + _float_reasons(entries)
    return "\n".join(lines)


def _print_report(rep: dict) -> None:
    print(format_report(rep))
    if "observer_selection" in rep:
        sel = rep["observer_selection"]
        print(f"observer: {sel['observer']} (by {sel['criterion']} on the validation "
              "data; " + ", ".join(
                  f"{c['kind']} {c['output_sqnr_db']:.2f} dB" +
                  (f" {c['accuracy'] * 100:.2f} %" if "accuracy" in c else "")
                  for c in sel["candidates"]) + ")")
    if "output_sqnr_db" in rep:
        print(f"output SQNR vs float: {rep['output_sqnr_db']:.2f} dB")
    if "mixed_precision" in rep:
        record = rep["mixed_precision"]
        to = record.get("promote_to", "float")
        kept = record[f"{to}_layers"]
        where = "kept in float" if to == "float" else "given int8 weights"
        print(f"{where} for the target: {', '.join(kept) if kept else 'none'}")


KEEP_INT8_HELP = ("weight-int4: regular expression of layer names whose "
                  "weights are quantized to 8 bits instead")
PROMOTE_HELP = ("with --target-sqnr: keep the most sensitive layers in float "
                "(default), or give them int8 weights (weight-int4)")
KIND_HELP = ("the activation observer; 'auto': each of " + ", ".join(SELECT_KINDS) +
             " is tried and the one whose static int8 model does best on "
             "--validation is kept")
VALIDATION_HELP = (".npz data the observer is chosen on with --kind auto "
                   "(not the calibration data, nor the test data)")
LABELS_HELP = ("with --kind auto: the --validation array of integer labels; "
               "the most accurate observer wins, SQNR against float breaking ties")
ENTRY_HELP = ("the function to run (default: main, or the module's one "
              "function with quantizable layers)")


# The output files of each command, by argument.
OUTPUTS = {"calibrate": ("stats",), "quantize": ("output", "report"),
           "run": ("output", "report", "stats"), "monitor": ("json",),
           "evaluate": ("json",)}


def _say(line: str) -> None:
    """Progress lines of the command line: to stderr, at once."""
    print(line, file=sys.stderr, flush=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m quantx.ptq",
                                description="Calibrate, quantize, evaluate and monitor a float model.")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("calibrate", help="collect statistics into a JSON file")
    c.add_argument("model")
    c.add_argument("--entry", help=ENTRY_HELP)
    c.add_argument("--data", required=True, help=".npz calibration data")
    c.add_argument("--stats", required=True, help="output statistics JSON")
    c.add_argument("--kind", default="min_max", choices=OBSERVER_KINDS + ("auto",),
                   help=KIND_HELP)
    c.add_argument("--validation", metavar="NPZ", help=VALIDATION_HELP)
    c.add_argument("--labels", metavar="KEY", help=LABELS_HELP)
    c.add_argument("--num-bins", type=int, default=0)
    c.add_argument("--percentile", type=float, default=0.0)
    c.add_argument("--momentum", type=float, default=0.0)
    q = sub.add_parser("quantize", help="rewrite the model with quantx-ptq")
    q.add_argument("model")
    q.add_argument("--entry", help=ENTRY_HELP + " (with --data)")
    q.add_argument("--stats")
    q.add_argument("-o", "--output", required=True)
    q.add_argument("--mode", default="static-int8", choices=MODES)
    q.add_argument("--group-size", type=int, default=0)
    q.add_argument("--bias-correction", action="store_true",
                   help="correct each layer's bias for the mean error of its "
                        "quantized weights on the calibration data")
    q.add_argument("--keep-float", action="append", default=[],
                   help="regular expression of layer names to keep in float")
    q.add_argument("--keep-int8", action="append", default=[], help=KEEP_INT8_HELP)
    q.add_argument("--report")
    q.add_argument("--data", help=".npz data to measure SQNR figures on")
    q.add_argument("--target-sqnr", type=float, metavar="DB",
                   help="automatic mixed precision: keep the most sensitive "
                        "layers in float until the output SQNR against float "
                        "on --data reaches DB")
    q.add_argument("--max-float-layers", type=int, metavar="N",
                   help="with --target-sqnr: keep at most N layers in float "
                        "(beyond --keep-float), or in int8 with --promote-to int8")
    q.add_argument("--promote-to", choices=PROMOTIONS, default="float",
                   help=PROMOTE_HELP)
    r = sub.add_parser("run", help="the whole flow: calibrate, quantize, report")
    r.add_argument("model")
    r.add_argument("--data", required=True, help=".npz calibration data")
    r.add_argument("-o", "--output", required=True)
    r.add_argument("--mode", default="static-int8", choices=MODES)
    r.add_argument("--kind", default="min_max", choices=OBSERVER_KINDS + ("auto",),
                   help=KIND_HELP)
    r.add_argument("--validation", metavar="NPZ", help=VALIDATION_HELP)
    r.add_argument("--labels", metavar="KEY", help=LABELS_HELP)
    r.add_argument("--num-bins", type=int, default=0)
    r.add_argument("--percentile", type=float, default=0.0)
    r.add_argument("--momentum", type=float, default=0.0)
    r.add_argument("--group-size", type=int, default=0)
    r.add_argument("--bias-correction", action="store_true",
                   help="correct each layer's bias for the mean error of its "
                        "quantized weights on the calibration data")
    r.add_argument("--keep-float", action="append", default=[],
                   help="regular expression of layer names to keep in float")
    r.add_argument("--keep-int8", action="append", default=[], help=KEEP_INT8_HELP)
    r.add_argument("--target-sqnr", type=float, metavar="DB")
    r.add_argument("--max-float-layers", type=int, metavar="N")
    r.add_argument("--promote-to", choices=PROMOTIONS, default="float",
                   help=PROMOTE_HELP)
    r.add_argument("--stats", help="also keep the statistics JSON here")
    r.add_argument("--report")
    r.add_argument("--entry", help=ENTRY_HELP)
    s = sub.add_parser("sensitivity", help="rank layers by the error each adds alone")
    s.add_argument("model")
    s.add_argument("--entry", help=ENTRY_HELP)
    s.add_argument("--stats")
    s.add_argument("--data", required=True, help=".npz data")
    s.add_argument("--mode", default="static-int8", choices=MODES)
    s.add_argument("--group-size", type=int, default=0)
    s.add_argument("--keep-float", action="append", default=[],
                   help="regular expression of layer names to keep in float (not ranked)")
    s.add_argument("--keep-int8", action="append", default=[], help=KEEP_INT8_HELP)
    m = sub.add_parser("monitor", help="run data through a quantized model, compared "
                                       "with its float model on every N-th call")
    m.add_argument("model", help="the quantized model")
    m.add_argument("--float", required=True, dest="float_model",
                   help="the float model it was made from")
    m.add_argument("--stats", required=True,
                   help="the statistics JSON it was calibrated with")
    m.add_argument("--data", required=True, help=".npz data, as for calibrate")
    m.add_argument("--report", help="its quantx-ptq report: check only the "
                                    "tensors it quantizes with calibrated parameters")
    m.add_argument("--entry", help=ENTRY_HELP)
    m.add_argument("--shadow-every", type=int, default=10, metavar="N",
                   help="compare with the float model on every N-th call (default 10)")
    m.add_argument("--max-clip-fraction", type=float, default=0.01,
                   help="alert when a larger share of a tensor's values is outside "
                        "its calibrated range (default 0.01)")
    m.add_argument("--min-sqnr", type=float, metavar="DB",
                   help="alert when the output SQNR against float is below DB")
    m.add_argument("--json", help="also write the summary as JSON here")
    m.add_argument("--fail-on-alert", action="store_true",
                   help="exit with status 2 when there is an alert")
    e = sub.add_parser("evaluate", help="compare a float model with its quantized "
                                        "versions: accuracy, fidelity, size, speed")
    e.add_argument("models", nargs="+", metavar="model",
                   help="the reference (float) model first, then the others")
    e.add_argument("--data", required=True,
                   help=".npz data, as for calibrate (plus the labels array)")
    e.add_argument("--labels", metavar="KEY",
                   help="the .npz array of integer labels: report accuracy")
    e.add_argument("--entry", help="the function to run (default: main, or the "
                                   "module's one public function)")
    e.add_argument("--rounds", type=int, default=5,
                   help="alternating timing rounds (default 5)")
    e.add_argument("--round-seconds", type=float, default=0.2,
                   help="seconds each model is timed per round (default 0.2)")
    e.add_argument("--json", help="also write the figures as JSON here")
    args = p.parse_args(argv)
    try:
        _check_outputs(*(getattr(args, k) for k in OUTPUTS.get(args.cmd, ())))
        if args.cmd == "evaluate":
            from . import evaluate
            result = evaluate.evaluate(
                args.models, args.data, args.labels, args.entry, args.rounds,
                args.round_seconds,
                progress=lambda line: print(line, file=sys.stderr, flush=True))
            print(result.pop("text"))
            _write_outputs([(args.json, _json_bytes(result))])
            return 0
        if args.cmd == "monitor":
            from . import monitor
            summary = monitor.monitor(
                args.model, args.float_model, args.stats, args.data, args.report,
                args.entry, args.shadow_every, args.max_clip_fraction, args.min_sqnr,
                progress=lambda line: print(line, file=sys.stderr, flush=True))
            print(summary.pop("text"))
            _write_outputs([(args.json, _json_bytes(summary))])
            return 2 if args.fail_on_alert and summary["alerts"] else 0
        if args.cmd in ("calibrate", "run"):
            if args.kind == "auto" and not args.validation:
                raise PTQError("--kind auto needs --validation data to choose on")
            if args.kind != "auto" and (args.validation or args.labels):
                raise PTQError("--validation and --labels choose the observer: "
                               "they need --kind auto")
        if args.cmd == "calibrate":
            observer = dict(num_bins=args.num_bins, percentile=args.percentile,
                            momentum=args.momentum)
            if args.kind == "auto":
                with tempfile.TemporaryDirectory(prefix="quantx-select-") as tmp:
                    staged = os.path.join(tmp, "stats.json")
                    select_observer(args.model, args.data, args.validation, staged,
                                    labels=args.labels, entry=args.entry,
                                    progress=_say, **observer)
                    stats = json.loads(Path(staged).read_text())
                    _write_outputs([(args.stats, Path(staged))])
            else:
                stats = calibrate(args.model, args.data, args.stats, args.kind,
                                  entry=args.entry, progress=_say, **observer)
            print(f"{len(stats['observations'])} observations over "
                  f"{stats['num_batches']} batches -> {args.stats}")
        elif args.cmd == "quantize":
            keep, keep8 = list(args.keep_float), list(args.keep_int8)
            if args.target_sqnr is not None and not args.data:
                raise PTQError("--target-sqnr needs --data to measure the SQNR on")
            if args.target_sqnr is None and (args.max_float_layers is not None or
                                             args.promote_to != "float"):
                flag = ("--max-float-layers" if args.max_float_layers is not None
                        else "--promote-to")
                raise PTQError(f"{flag} needs --target-sqnr")
            # The model is written with the report once the SQNR is measured.
            with tempfile.TemporaryDirectory(prefix="quantx-quantize-") as tmp:
                staged = os.path.join(tmp, "quantized.mlir")
                if args.target_sqnr is not None:
                    rep = mixed_precision(
                        args.model, args.stats, args.data, staged, args.target_sqnr,
                        args.mode, args.group_size, keep, args.max_float_layers,
                        progress=_say, entry=args.entry,
                        bias_correction=args.bias_correction, keep_int8=keep8,
                        promote_to=args.promote_to)
                    _promoted(rep, keep, keep8)
                else:
                    rep = quantize(args.model, args.stats, staged, args.mode,
                                   args.group_size, keep,
                                   bias_correction=args.bias_correction, keep_int8=keep8)
                if args.data:
                    add_sqnr(rep, args.model, args.stats, args.data, args.mode,
                             args.group_size, keep, args.entry, args.bias_correction,
                             keep8)
                _write_outputs([(args.output, Path(staged)),
                                (args.report, _json_bytes(rep))])
            _print_report(rep)
        elif args.cmd == "run":
            rep = quantize_model(
                args.model, args.data, args.output, args.mode, args.kind,
                args.group_size, args.keep_float, args.target_sqnr,
                args.max_float_layers, args.report, args.stats, args.entry,
                progress=lambda line: print(line, file=sys.stderr, flush=True),
                bias_correction=args.bias_correction, keep_int8=args.keep_int8,
                promote_to=args.promote_to, validation=args.validation,
                labels=args.labels, num_bins=args.num_bins,
                percentile=args.percentile, momentum=args.momentum)
            _print_report(rep)
        else:
            for e in sensitivity(args.model, args.stats, args.data, args.mode,
                                 args.group_size, args.keep_float, entry=args.entry,
                                 keep_int8=args.keep_int8):
                print(f"{e['name']}\t{e['sqnr_db']:.2f} dB")
    except (PTQError, OSError) as e:  # OSError: a file operation; it names the file
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # Run the package's module, not this `__main__` copy of it: the errors
    # quantx.evaluate and quantx.monitor raise are quantx.ptq.PTQError.
    from quantx.ptq import main as _package_main
    sys.exit(_package_main())
