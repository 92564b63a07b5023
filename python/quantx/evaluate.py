"""Comparing a float model with its quantized versions.

:func:`evaluate` runs the same data through several compiled models (the
first is the reference, usually the float model) and measures, side by
side:

* accuracy and loss, when labels are given: the arg-max of the first
  result (``[batch, classes]``, or ``[batch, ..., classes]`` with labels
  per position, as a language model's next tokens) against the integer
  labels, and their mean negative log-likelihood under its softmax (and
  the perplexity, its exponential);
* fidelity to the reference: the output SQNR over all samples and, for
  results with classes, the share of samples (positions) whose top class
  is the reference's;
* size: the bytes of each module's constant tensors at their storage width
  (``quantx-size-report``), and how many times smaller than the
  reference's;
* speed: latency of one call at the models' batch size and throughput in
  samples per second, timed in native code in alternating rounds (every
  model once per round), so that a slow phase of the machine reaches all
  of them alike.

In Python a model may also be a PyTorch module or any callable on the
same numpy arrays (a peer, such as PyTorch's own quantized model); every
model is then timed through its Python call.

``python -m quantx.ptq evaluate`` is the command-line form. See
docs/PTQ.md ("Comparing models").
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from . import ptq
from .ptq import PTQError

# numpy dtype -> the element type names ptq._check_batch compares with.
_ELEMENT_TYPES = {np.dtype(t): name for name, t in ptq.ARGUMENT_DTYPES.items()}


def size_report(model: str) -> dict:
    """The ``quantx-size-report`` of a module: bytes of its constant tensors
    (``total_bytes``; ``by_element_type``, ``splat_bytes``, ...)."""
    if not os.path.isfile(model):
        raise PTQError(f"cannot read the model '{model}'")
    with tempfile.TemporaryDirectory(prefix="quantx-size-") as tmp:
        out = os.path.join(tmp, "size.json")
        ptq._run([ptq._tool("quantx-opt"), ptq._arg_path(model),
                  "-quantx-size-report=" + ptq._option("output", out),
                  "-o", os.devnull], f"measuring the size of '{model}'")
        with open(out) as f:
            return json.load(f)


def _function(path: str, entry: Optional[str]):
    """The compiled function `entry` of `path` (default: `main`, or the
    module's one public function) and its name."""
    if not os.path.isfile(path):
        raise PTQError(f"cannot read the model '{path}'")
    try:
        from . import jit
    except (ImportError, OSError) as e:
        raise PTQError(f"evaluating needs the JIT library: {e}") from None
    try:
        with open(path, "rb") as f:
            module = jit.compile(f.read())  # MLIR text or bytecode
    except jit.QuantXError as e:
        raise PTQError(f"compiling '{path}' failed:\n{e}") from None
    if entry is None:
        if "main" in module or len(module.functions) != 1:
            entry = "main"
        else:
            entry = module.functions[0]
    if entry not in module:
        raise PTQError(f"'{path}' has no public function '{entry}' (it has: "
                       f"{', '.join(module.functions) or 'none'}); name one with entry=")
    return module[entry], entry


def _arguments(fn, path: str) -> List[dict]:
    """The function's arguments in the form ptq._batches/_check_batch take."""
    out = []
    for i, t in enumerate(fn.arguments):
        name = _ELEMENT_TYPES.get(np.dtype(t.dtype))
        if name is None:
            raise PTQError(f"'{path}': argument {i} is {t.mlir_type}; evaluate feeds "
                           "f16, f32, f64, i8, i32 or i64 tensors")
        out.append({"shape": list(t.shape), "element_type": name})
    return out


def _split_labels(labels, data):
    """(data, labels): `labels` an array, or the name of an array of .npz
    `data`, which is then read once and returned without it (a dict of its
    other arrays by name)."""
    if not isinstance(labels, str):
        return data, None if labels is None else np.asarray(labels)
    if not isinstance(data, (str, os.PathLike)):
        raise PTQError("labels named by key need .npz data")
    arrays = ptq.read_arrays(data, "evaluation")
    if labels not in arrays:
        raise PTQError(f"'{data}' has no array '{labels}' of labels "
                       f"(it has: {', '.join(arrays)})")
    return arrays, arrays.pop(labels)


def _check_labels(labels: np.ndarray, num_samples: int) -> None:
    if labels.ndim < 1 or labels.dtype.kind not in "iu":
        raise PTQError(f"labels must be an integer array, got {labels.dtype} "
                       f"of shape {labels.shape}")
    if labels.shape[0] != num_samples:
        raise PTQError(f"{labels.shape[0]} labels for {num_samples} samples")


def mean_nll(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood (cross-entropy, nats) of `labels` under
    the softmax of `logits` along its last axis, in float64."""
    x = logits.reshape(-1, logits.shape[-1]).astype(np.float64)
    y = labels.reshape(-1)
    top = x.max(axis=1)
    lse = top + np.log(np.exp(x - top[:, None]).sum(axis=1))
    return float(np.mean(lse - x[np.arange(len(y)), y]))


def mcnemar_p(a: np.ndarray, b: np.ndarray):
    """Two-sided exact McNemar test of two classifiers' per-sample
    correctness `a`, `b` (boolean arrays): the probability, if both were
    equally accurate, of a split of the samples only one of them gets
    right at least this uneven. Returns (p, a-only count, b-only count)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    only_a, only_b = int(np.count_nonzero(a & ~b)), int(np.count_nonzero(~a & b))
    n, k = only_a + only_b, min(only_a, only_b)
    if n == 0:
        return 1.0, only_a, only_b
    # Exact in integers: 2^n overflows a float from n = 1024 on.
    tail = sum(math.comb(n, i) for i in range(k + 1)) / (1 << n)
    return min(1.0, 2.0 * tail), only_a, only_b


def _as_array(out, what: str) -> np.ndarray:
    """The first result of a call, as a numpy array."""
    if isinstance(out, (tuple, list)):
        out = out[0] if out else None
    if out is None:
        raise PTQError(f"{what} returns nothing to compare")
    if hasattr(out, "detach"):  # a torch.Tensor
        out = out.detach().cpu().numpy()
    return np.asarray(out)


class _Compiled:
    """A quantx module: compiled once, timed in native code or through its
    Python call."""

    def __init__(self, name: str, path: str, entry: Optional[str]):
        self.name, self.path = name, path
        self.fn, self.entry = _function(path, entry)

    def __call__(self, batch) -> np.ndarray:
        from .ir import QuantXError  # loaded with the JIT
        try:
            out = self.fn(*batch)
        except (TypeError, ValueError, QuantXError) as e:
            raise PTQError(f"running '{self.path}' failed: {e}") from None
        return _as_array(out, f"'{self.path}': '{self.entry}'")

    def time(self, batch, repetitions: int, native: bool) -> List[float]:
        if native:
            return list(self.fn.benchmark(*batch, warmup=1,
                                          repetitions=repetitions).times)
        return _time_calls(self, batch, repetitions)

    def weight_bytes(self) -> Optional[int]:
        return size_report(self.path)["total_bytes"]


class _PythonModel:
    """A Python callable on the same numpy arrays (a PyTorch module gets
    them as tensors, without autograd): a peer, timed through its call."""

    def __init__(self, name: str, fn):
        self.name, self.path, self.fn = name, None, fn
        self.torch = _torch_module(fn)

    def __call__(self, batch) -> np.ndarray:
        try:
            if self.torch is not None:
                with self.torch.no_grad():
                    out = self.fn(*[self.torch.from_numpy(a) for a in batch])
            else:
                out = self.fn(*batch)
        except Exception as e:  # a peer's own failure, reported by name
            raise PTQError(f"running '{self.name}' failed: "
                           f"{type(e).__name__}: {e}") from None
        return _as_array(out, f"'{self.name}'")

    def time(self, batch, repetitions: int, native: bool) -> List[float]:
        return _time_calls(self, batch, repetitions)

    def weight_bytes(self) -> Optional[int]:
        """A PyTorch module's serialized state dict (its packed weights
        for a quantized one); unknown for other callables."""
        if self.torch is None:
            return None
        import io
        buf = io.BytesIO()
        self.torch.save(self.fn.state_dict(), buf)
        return buf.tell()


def _torch_module(fn):
    """The torch package when `fn` is a torch.nn.Module, else None."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(fn, torch.nn.Module):
        return torch
    return None


def _time_calls(model, batch, repetitions: int) -> List[float]:
    from . import jit
    return jit.benchmark(lambda: model(batch), warmup=1,
                         repetitions=repetitions, name=model.name).times


def _timing_rounds(models, batch, rounds: int, min_seconds: float, native: bool,
                   progress):
    """Per-model call times (s) over `rounds` alternating rounds, each of
    about `min_seconds` per model after a warm-up of the same length."""
    reps = []
    for m in models:  # Warm-up, and the repetitions a round takes.
        start, n = time.perf_counter(), 0
        while n < 3 or time.perf_counter() - start < min_seconds:
            m.time(batch, 1, native)
            n += 1
        per_call = (time.perf_counter() - start) / n
        reps.append(max(3, int(min_seconds / max(per_call, 1e-7))))
    times: List[List[float]] = [[] for _ in models]
    for r in range(rounds):
        for i, m in enumerate(models):
            times[i] += m.time(batch, reps[i], native)
        if progress:
            progress(f"timing: round {r + 1} of {rounds}")
    return times


def evaluate(models: Union[Sequence[str], Dict[str, str]], data, labels=None,
             entry: Optional[str] = None, rounds: int = 5,
             min_seconds: float = 0.2, progress=None,
             progress_seconds: float = 2.0) -> dict:
    """Compares `models` (.mlir paths, or a dict of name -> path, PyTorch
    module or callable; the first is the reference; at least one is a
    quantx module) on `data` (as for :func:`quantx.ptq.calibrate`: an .npz
    path, an array of samples, or an iterable of batches).

    `labels` is an integer array, or the name of the .npz array that holds
    it (it is then not an argument): one class per sample for a first
    result of shape [batch, classes], or one per position for a result of
    [batch, ..., classes] (a language model's next tokens: labels of
    [samples, positions]). With labels each model gets its accuracy (the
    arg-max over the classes), and the mean negative log-likelihood of the
    labels under the softmax of the result (nats; perplexity = exp of it).
    Every model must take the same arguments. Returns a dict with one entry
    per model under "models" and the readable table under "text"."""
    if isinstance(models, dict):
        named = list(models.items())
    else:
        named = [(os.path.basename(str(p)), p) for p in models]
    if not named:
        raise PTQError("no model to evaluate")
    if len({n for n, _ in named}) != len(named):
        raise PTQError("two models have the same name; name them")
    if rounds < 1 or min_seconds <= 0:
        raise PTQError("need rounds >= 1 and min_seconds > 0")
    data, labels = _split_labels(labels, data)
    runs, ref_args, ref_entry, ref_path = [], None, None, None
    for name, model in named:
        if callable(model) and not isinstance(model, (str, os.PathLike)):
            runs.append(_PythonModel(name, model))
            continue
        run = _Compiled(name, str(model), entry)
        args = _arguments(run.fn, run.path)
        if ref_args is None:
            ref_args, ref_entry, ref_path = args, run.entry, run.path
        elif args != ref_args:
            raise PTQError(f"'{run.path}' takes {run.entry}{_signature(args)}, but "
                           f"'{ref_path}' takes {ref_entry}{_signature(ref_args)}: "
                           "the models must take the same arguments")
        runs.append(run)
    if ref_args is None:
        raise PTQError("no quantx model (.mlir) among the models: the others "
                       "are peers compared with one")
    native = all(isinstance(r, _Compiled) for r in runs)
    batches = [ptq._check_batch(i, b, ref_args, "evaluation")
               for i, b in enumerate(ptq._batches(data, ref_args, "evaluation"))]
    if not batches:
        raise PTQError("no data to evaluate on")
    num_samples = sum(b[0].shape[0] if b[0].ndim else 1 for b in batches)
    if labels is not None:
        _check_labels(labels, num_samples)

    outputs: List[np.ndarray] = []
    last = time.perf_counter()
    for run in runs:
        name, path = run.name, run.path or run.name
        got = []
        for i, b in enumerate(batches):
            got.append(run(b))
            now = time.perf_counter()
            if progress and now - last >= progress_seconds:
                progress(f"evaluating {name}: batch {i + 1} of {len(batches)}")
                last = now
        if not outputs:
            ref_shape = got[0].shape
            if labels is not None:
                _check_label_shape(labels, got[0], ref_entry)
        elif got[0].shape != ref_shape:
            raise PTQError(f"'{path}' returns {tuple(got[0].shape)}, the reference "
                           f"{tuple(ref_shape)}")
        outputs.append(np.concatenate([g.reshape(g.shape if g.ndim else (1,))
                                       for g in got]))
    classes = ref_shape[-1] if len(ref_shape) >= 2 else 0

    times = _timing_rounds(runs, batches[0], rounds, min_seconds, native, progress)
    batch = batches[0][0].shape[0] if batches[0][0].ndim else 1
    reference = outputs[0]
    ref_top = reference.argmax(-1) if classes > 1 else None
    ref_right = reference.argmax(-1) == labels if labels is not None else None
    rows = []
    for run, out, t in zip(runs, outputs, times):
        size = run.weight_bytes()
        t = np.asarray(t) * 1e3
        row = {"name": run.name, "path": run.path, "weight_bytes": size,
               "latency_ms": {"median": float(np.median(t)), "min": float(t.min()),
                              "p90": float(np.percentile(t, 90))},
               "calls_timed": int(t.size)}
        row["samples_per_second"] = batch / (row["latency_ms"]["median"] / 1e3)
        if labels is not None:
            row["correct"] = int(np.count_nonzero(out.argmax(-1) == labels))
            row["accuracy"] = row["correct"] / labels.size
            row["nll"] = mean_nll(out, labels)
            row["perplexity"] = math.exp(min(row["nll"], 700.0))
        if rows:
            if labels is not None:
                p, only_ref, only_this = mcnemar_p(ref_right, out.argmax(-1) == labels)
                row.update(only_reference_right=only_ref, only_this_right=only_this,
                           accuracy_p_value=p)
            row["output_sqnr_db"] = ptq.sqnr_db(reference, out)
            if ref_top is not None:
                row["top1_agreement"] = float(np.mean(out.argmax(-1) == ref_top))
            ref = rows[0]
            if ref["weight_bytes"] is not None and size is not None:
                row["size_ratio"] = ref["weight_bytes"] / size if size else math.inf
            row["speedup"] = ref["latency_ms"]["median"] / row["latency_ms"]["median"]
        rows.append(row)
    result = {"entry": ref_entry, "samples": num_samples, "batch": batch,
              "rounds": rounds, "timing": "native" if native else "python",
              "reference": named[0][0], "models": rows}
    if labels is not None:
        result["labels"] = int(labels.size)
    result["text"] = format_evaluation(result)
    return result


def _check_label_shape(labels: np.ndarray, first: np.ndarray, entry: str) -> None:
    """Labels fit a first result of [batch, ..., classes]: one per position
    before the classes, each in [0, classes)."""
    if first.ndim < 2 or first.shape[-1] < 2:
        raise PTQError("accuracy needs a first result of shape [batch, ..., classes]; "
                       f"'{entry}' returns {tuple(first.shape)}")
    if labels.shape[1:] != first.shape[1:-1]:
        raise PTQError(f"labels of shape {labels.shape} do not fit '{entry}''s result "
                       f"{tuple(first.shape)}: expected [samples"
                       + "".join(f", {d}" for d in first.shape[1:-1]) + "]")
    classes = first.shape[-1]
    if labels.min() < 0 or labels.max() >= classes:
        raise PTQError(f"labels must lie in [0, {classes}), got "
                       f"[{labels.min()}, {labels.max()}]")


def _signature(args) -> str:
    return "(" + ", ".join("x".join(map(str, a["shape"])) + "x" + a["element_type"]
                           for a in args) + ")"


def format_evaluation(result: dict) -> str:
    """The result of :func:`evaluate` as a table."""
    sequences = result.get("labels", 0) > result["samples"]
    loss = "perplexity" if sequences else "NLL"
    rows = [("model", "accuracy", loss, "only right (ref/this), p", "top-1 = ref",
             "SQNR dB", "weight bytes",
             "x smaller", f"ms (batch {result['batch']})", "p90 ms", "samples/s",
             "speedup")]
    for r in result["models"]:
        lat = r["latency_ms"]
        rows.append((
            r["name"],
            f"{100 * r['accuracy']:.2f}%" if "accuracy" in r else "-",
            ("-" if "nll" not in r else f"{r['perplexity']:.4f}" if sequences
             else f"{r['nll']:.4f}"),
            (f"{r['only_reference_right']}/{r['only_this_right']}, "
             f"p = {r['accuracy_p_value']:.2g}" if "accuracy_p_value" in r else "-"),
            f"{100 * r['top1_agreement']:.2f}%" if "top1_agreement" in r else "-",
            f"{r['output_sqnr_db']:.2f}" if "output_sqnr_db" in r else "-",
            f"{r['weight_bytes']:,}" if r["weight_bytes"] is not None else "-",
            f"{r['size_ratio']:.2f}" if "size_ratio" in r else "-",
            f"{lat['median']:.3f}", f"{lat['p90']:.3f}",
            f"{r['samples_per_second']:,.0f}",
            f"{r['speedup']:.2f}" if "speedup" in r else "-"))
    how = ("" if result.get("timing", "native") == "native"
           else ", each a Python call (arrays in, arrays out)")
    lines = [f"'{result['entry']}' on {result['samples']} samples; reference "
             f"'{result['reference']}'; latency: median of {result['rounds']} "
             f"alternating rounds{how}"]
    return "\n".join(lines + ptq._table(rows))
