"""Monitoring a deployed quantized model against its float original.

A :class:`Monitor` wraps the quantized model's function and is called in its
place. Every call is timed; every ``shadow_every``-th call (the first one
included) also runs the float model, instrumented with the same observation
points calibration used (:func:`quantx.ptq.instrument`), on the same inputs.
From those shadow calls it keeps, over the whole run:

* the output SQNR of the quantized model against the float one (all shadow
  outputs together, and the worst single call), and for outputs with
  classes along their last axis the share of rows (or positions) whose
  arg-max agrees (the top class of a classifier, the next token of a
  language model);
* for each tensor the quantized model quantizes with calibrated parameters
  (static int8), the share of its values outside the range the calibrated
  uint8 grid can represent, which the quantized model clips, and the range
  seen; data that drifted away from the calibration data shows up here
  first.

Thresholds turn these into alerts (``max_clip_fraction``, ``min_sqnr_db``).
See docs/PTQ.md ("Monitoring a deployed model").
"""

from __future__ import annotations

import json
import math
import numbers
import os
import tempfile
import time
from typing import Dict, List, Optional, Union

import numpy as np

from . import ptq
from .ptq import PTQError


def _load_json(value: Union[str, os.PathLike, dict, None], what: str) -> Optional[dict]:
    if value is None or isinstance(value, dict):
        return value
    try:
        with open(value) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise PTQError(f"cannot read {what} '{value}': {e}") from None
    except RecursionError:
        raise PTQError(f"cannot read {what} '{value}': nested too deeply") from None


class _Range:
    """Values of one observed tensor against its calibrated uint8 grid."""

    def __init__(self, name: str, scale: float, zero_point: int):
        self.name = name
        # Real values the grid represents, widened by half a step: beyond
        # them quantization saturates instead of rounding.
        self.lo = (0 - zero_point - 0.5) * scale
        self.hi = (255 - zero_point + 0.5) * scale
        self.count = 0
        self.clipped = 0
        self.seen_min = math.inf
        self.seen_max = -math.inf

    def observe(self, t: np.ndarray) -> None:
        self.count += t.size
        self.clipped += int(np.count_nonzero((t < self.lo) | (t > self.hi)))
        if t.size:
            self.seen_min = min(self.seen_min, float(t.min()))
            self.seen_max = max(self.seen_max, float(t.max()))

    @property
    def fraction(self) -> float:
        return self.clipped / self.count if self.count else 0.0


class Monitor:
    """Runs the quantized model `quantized` (an .mlir file) in place of the
    float model `float_model`, comparing the two on every
    `shadow_every`-th call.

    `stats` is the calibration statistics (file or dict) the quantized
    model was made with; `report` (file or dict, optional) the quantx-ptq
    report, whose layers name the observations each quantized layer's input
    was quantized with (`input_observation`) and whose additions name their
    outputs': only those are checked for clipping. Without a report every
    per-tensor observation that is not a result of the model is.

    Calling the monitor returns the quantized model's results, as calling
    its function would."""

    def __init__(self, quantized: str, float_model: str, stats, report=None,
                 entry: Optional[str] = None, shadow_every: int = 10,
                 max_clip_fraction: float = 0.01,
                 min_sqnr_db: Optional[float] = None):
        if shadow_every < 1:
            raise PTQError(f"shadow_every must be >= 1, got {shadow_every}")
        if not 0.0 <= max_clip_fraction <= 1.0:
            raise PTQError(f"max_clip_fraction must be in [0, 1], got {max_clip_fraction}")
        for path, what in ((quantized, "quantized model"), (float_model, "float model")):
            if not os.path.isfile(path):
                raise PTQError(f"cannot read the {what} '{path}'")
        self.shadow_every = shadow_every
        self.max_clip_fraction = max_clip_fraction
        self.min_sqnr_db = min_sqnr_db
        stats = _load_json(stats, "statistics")
        report = _load_json(report, "report")
        if not isinstance(stats, dict) or stats.get("format") != "quantx-calibration":
            raise PTQError("the statistics are not a quantx calibration file")
        self._quantized = quantized
        self._tmp = tempfile.TemporaryDirectory(prefix="quantx-monitor-")
        try:
            self._setup(float_model, stats, report, entry)
        except BaseException:
            self._tmp.cleanup()
            raise
        self.calls = 0
        self.shadow_calls = 0
        self._latencies: List[float] = []
        self._signal = 0.0
        self._noise = 0.0
        self._worst_sqnr = math.inf
        self._agree = 0
        self._rows = 0

    def _setup(self, float_model: str, stats: dict, report: Optional[dict],
               entry: Optional[str]) -> None:
        """Instruments and compiles the float model beside the quantized one
        and picks the tensors to check for clipping."""
        self._path, manifest = ptq.instrument(float_model, self._tmp.name, entry=entry)
        self.entry = manifest["function"]
        self._arguments = manifest["arguments"]
        self._num_results = manifest["num_results"]
        self._num_all = manifest["num_all_results"]
        self._observations = manifest["observations"]
        observed = stats.get("observations", {})
        if not isinstance(observed, dict):
            raise PTQError("the statistics are not a quantx calibration file: "
                           "'observations' is not an object")
        missing = [e["name"] for e in self._observations if e["name"] not in observed]
        if missing:
            raise PTQError("the statistics do not belong to this model: no "
                           f"observation {', '.join(repr(n) for n in missing[:5])}")
        checked = self._checked_observations(report)
        unknown = sorted(checked - {e["name"] for e in self._observations})
        if unknown:
            raise PTQError("the report does not belong to this model: it names "
                           f"observation {', '.join(repr(n) for n in unknown[:5])}, "
                           "which the model does not have")
        self._ranges: Dict[str, _Range] = {}
        for e in self._observations:
            rec = observed[e["name"]]
            if e["name"] in checked and isinstance(rec, dict) and \
                    "scale" in rec and "zero_point" in rec:
                scale, zp = rec["scale"], rec["zero_point"]
                if not isinstance(scale, numbers.Real) or not 0 < scale < math.inf or \
                        not isinstance(zp, numbers.Integral) or not 0 <= zp <= 255:
                    raise PTQError(f"the statistics of '{e['name']}' are malformed: "
                                   "'scale' must be a positive number and 'zero_point' "
                                   f"an integer in [0, 255], got {scale!r:.40} "
                                   f"and {zp!r:.40}")
                self._ranges[e["name"]] = _Range(e["name"], float(scale), int(zp))
        # Compile both models now, so that no call's latency includes it.
        for path in (self._quantized, self._path):
            ptq._jit_function(path, self.entry)

    def _checked_observations(self, report: Optional[dict]) -> set:
        """The observations to check for clipping: those the report's
        quantized layers and additions name, or without a report every
        one that is not a result of the model."""
        if report is None:
            return {e["name"] for e in self._observations
                    if e.get("result", self._num_results) >= self._num_results}
        if not isinstance(report, dict):
            raise PTQError("the report is not a quantx-ptq report (a JSON object)")
        names = set()
        for key, field in (("layers", "input_observation"), ("adds", "observation")):
            entries = report.get(key, [])
            if not isinstance(entries, list) or \
                    not all(isinstance(e, dict) for e in entries):
                raise PTQError(f"the report is not a quantx-ptq report: '{key}' "
                               "is not a list of objects")
            for e in entries:
                if e.get("status") == "quantized" and field in e:
                    if not isinstance(e[field], str):
                        raise PTQError(f"the report is malformed: a '{field}' of "
                                       f"'{key}' is {e[field]!r:.40}, "
                                       "not a name")
                    names.add(e[field])
        return names

    def close(self) -> None:
        """Removes the instrumented float model."""
        self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __call__(self, *inputs: np.ndarray):
        batch = ptq._check_batch(self.calls, list(inputs), self._arguments, "monitored")
        start = time.perf_counter()
        out = ptq.run_function(self._quantized, batch, self._num_results, self.entry)
        self._latencies.append(time.perf_counter() - start)
        if self.calls % self.shadow_every == 0:
            self._shadow(batch, out)
        self.calls += 1
        return out[0] if len(out) == 1 else tuple(out)

    def _shadow(self, batch: List[np.ndarray], out: List[np.ndarray]) -> None:
        results = ptq.run_function(self._path, batch, self._num_all, self.entry)
        self.shadow_calls += 1
        for e in self._observations:
            r = self._ranges.get(e["name"])
            if r is not None:
                t = batch[e["argument"]] if "argument" in e else results[e["result"]]
                r.observe(np.asarray(t, dtype=np.float32))
        reference = results[0].astype(np.float64)
        test = np.asarray(out[0], dtype=np.float64)
        signal = float(np.sum(reference * reference))
        noise = float(np.sum((reference - test) ** 2))
        self._signal += signal
        self._noise += noise
        self._worst_sqnr = min(self._worst_sqnr, _sqnr(signal, noise))
        if reference.ndim >= 2 and reference.shape[-1] > 1:
            # Classes along the last axis: per sample, or per position of
            # a sequence (a language model's next token).
            self._agree += int(np.count_nonzero(reference.argmax(-1) == test.argmax(-1)))
            self._rows += reference[..., 0].size

    def summary(self) -> dict:
        """The figures so far, and the alerts they raise."""
        lat = np.array(self._latencies) * 1e3
        out = {"entry": self.entry, "calls": self.calls,
               "shadow_calls": self.shadow_calls}
        if lat.size:
            out["latency_ms"] = {"mean": float(lat.mean()),
                                 "p50": float(np.percentile(lat, 50)),
                                 "p90": float(np.percentile(lat, 90)),
                                 "p99": float(np.percentile(lat, 99)),
                                 "max": float(lat.max())}
            batch = self._arguments[0]["shape"][0] if self._arguments[0]["shape"] else 1
            out["samples_per_second"] = batch * lat.size / (lat.sum() / 1e3)
        alerts = []
        if self.shadow_calls:
            sqnr = _sqnr(self._signal, self._noise)
            out["output_sqnr_db"] = sqnr
            out["worst_call_sqnr_db"] = self._worst_sqnr
            if self._rows:
                out["top1_agreement"] = self._agree / self._rows
            if self.min_sqnr_db is not None and sqnr < self.min_sqnr_db:
                alerts.append(f"output SQNR against float {sqnr:.2f} dB is below "
                              f"{self.min_sqnr_db:.2f} dB")
        clipping = {}
        for r in self._ranges.values():
            clipping[r.name] = {"fraction": r.fraction, "clipped": r.clipped,
                                "values": r.count, "grid": [r.lo, r.hi],
                                "seen": [r.seen_min, r.seen_max] if r.count else None}
            if r.count and r.fraction > self.max_clip_fraction:
                alerts.append(
                    f"'{r.name}': {100 * r.fraction:.3g}% of its values are outside "
                    f"the calibrated range [{r.lo:.4g}, {r.hi:.4g}] (seen "
                    f"[{r.seen_min:.4g}, {r.seen_max:.4g}]); the quantized model "
                    "clips them: recalibrate on data like this")
        out["clipping"] = clipping
        out["alerts"] = alerts
        return out

    def format(self) -> str:
        """The summary as readable text."""
        s = self.summary()
        lines = [f"{s['calls']} calls of '{s['entry']}', {s['shadow_calls']} compared "
                 "with the float model"]
        if "latency_ms" in s:
            l = s["latency_ms"]
            lines.append(f"latency ms: p50 {l['p50']:.3f}  p90 {l['p90']:.3f}  "
                         f"p99 {l['p99']:.3f}  max {l['max']:.3f}; "
                         f"{s['samples_per_second']:.1f} samples/s")
        if "output_sqnr_db" in s:
            line = (f"output SQNR against float: {s['output_sqnr_db']:.2f} dB "
                    f"(worst call {s['worst_call_sqnr_db']:.2f} dB)")
            if "top1_agreement" in s:
                line += f"; top-1 agreement {100 * s['top1_agreement']:.2f}%"
            lines.append(line)
        if s["clipping"]:
            rows = [("observation", "clipped", "grid range", "seen range")]
            for name, c in s["clipping"].items():
                seen = (f"[{c['seen'][0]:.4g}, {c['seen'][1]:.4g}]" if c["seen"]
                        else "-")
                rows.append((name, f"{100 * c['fraction']:.3f}%",
                             f"[{c['grid'][0]:.4g}, {c['grid'][1]:.4g}]", seen))
            lines += ptq._table(rows)
        lines += [f"ALERT: {a}" for a in s["alerts"]] or ["no alerts"]
        return "\n".join(lines)


def _sqnr(signal: float, noise: float) -> float:
    if noise == 0.0:
        return math.inf
    if signal == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def monitor(quantized: str, float_model: str, stats, data, report=None,
            entry: Optional[str] = None, shadow_every: int = 10,
            max_clip_fraction: float = 0.01, min_sqnr_db: Optional[float] = None,
            progress=None, progress_seconds: float = 2.0) -> dict:
    """Runs `data` (as for :func:`quantx.ptq.calibrate`) through a
    :class:`Monitor` and returns its summary. `progress`, if given, gets a
    line of text at most every `progress_seconds`."""
    with Monitor(quantized, float_model, stats, report, entry, shadow_every,
                 max_clip_fraction, min_sqnr_db) as mon:
        start = last = time.perf_counter()
        for batch in ptq._batches(data, mon._arguments, "monitoring"):
            mon(*batch)
            now = time.perf_counter()
            if progress and now - last >= progress_seconds:
                progress(f"monitoring: {mon.calls} calls in {now - start:.1f} s")
                last = now
        if mon.calls == 0:
            raise PTQError("no data to monitor")
        result = mon.summary()
        result["text"] = mon.format()
        return result
