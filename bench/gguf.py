"""llama.cpp checks and emission speed of the GGUF export of the example
character language model.

For each variant (F32, F16, Q8_0, Q4_0, Q4_1, Q5_0, Q4_K; the K type is
llama.cpp's Q4_K_M mix) the model is exported with quantx.gguf.llama and

* loaded by llama.cpp (llama-cpp-python), fed token ids directly (no
  tokenizer), logits of every position, fp32 K/V cache;
* evaluated by quantx on the same windows of held-out text ("Persuasion"):
  the model with exactly the weights quantx's codecs dequantize from the
  file (evaluator: quantx.gguf.evaluate.quantx_evaluator, backend printed);
* compared: logits (max |llama.cpp - quantx| / max |quantx|; criterion
  1e-4 for F32) and perplexity (criterion 0.1% for the quantized variants).
  A diagnostic column evaluates quantx's weights with llama.cpp's activation
  rounding (Q8_0/Q8_K/F16 inputs of its dot products) emulated.

Emission speed of already-quantized weights: --mb MiB of Q4_0 blocks
(quantx-packed from integer levels and f16 scales) written by
quantx.gguf.write (atomic: temporary file, fsync, rename) and by the gguf
package's GGUFWriter (the peer; timed without and with an fsync), same data,
same run, to tmpfs and to disk; plus the lossless export path (pack + write).

Output: a table, then one JSON line. MB = 10^6 bytes.

  PYTHONPATH=build/python_packages python bench/gguf.py [--windows 16]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

# This script is named like the gguf package: keep its folder off the import
# path so that "import gguf" finds the package.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

VARIANTS = ["f32", "f16", "q8_0", "q4_0", "q4_1", "q5_0", "q4_k"]


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def check_variants(args, workdir):
    from quantx import models
    from quantx.gguf import evaluate as E
    from quantx.gguf import llama as L
    from quantx.models import data

    model, tok = models.load("charlm")
    ctx = model.config.max_seq_len
    length = min(args.window, ctx)
    ids = tok.encode(data.load_austen("test"))
    wins = E.windows(ids, length, args.windows)
    rows = []
    for ft in args.variants:
        path = os.path.join(workdir, f"charlm-{ft}.gguf")
        entries = L.export_llama(path, model, tok, ft)
        row = {"variant": ft, "file_bytes": os.path.getsize(path),
               "types": sorted({e.type for e in entries})}
        try:
            ev = E.LlamaCppEvaluator(path, ctx, n_threads=args.threads)
            row["llama_load_ok"] = True
        except Exception as e:  # llama.cpp refused the file
            row["llama_load_ok"] = False
            row["llama_error"] = str(e)
            rows.append(row)
            continue
        a = [ev(w) for w in wins]
        ev.close()
        qx = E.quantx_evaluator(path, args.backend)
        row["quantx_backend"] = qx.backend
        b = [qx(w) for w in wins]
        row["logits_rel_err"] = max(E.logits_rel_error(x, y) for x, y in zip(a, b))
        row["ppl_llama"] = E.perplexity(a, wins)
        row["ppl_quantx"] = E.perplexity(b, wins)
        row["ppl_rel_diff"] = row["ppl_llama"] / row["ppl_quantx"] - 1
        if args.emulate and ft != "f32":
            em = E.quantx_evaluator(path, "torch-llamacpp-activations")
            c = [em(w) for w in wins]
            row["ppl_emulated"] = E.perplexity(c, wins)
            row["ppl_rel_diff_emulated"] = row["ppl_llama"] / row["ppl_emulated"] - 1
        if ft == "f32":
            row["pass"] = row["logits_rel_err"] <= 1e-4 and abs(row["ppl_rel_diff"]) <= 1e-3
        else:
            row["pass"] = abs(row["ppl_rel_diff"]) <= 1e-3
        rows.append(row)
        print(f"  {ft}: done", file=sys.stderr, flush=True)
    return rows, {"windows": len(wins), "window_tokens": length,
                  "tokens": len(wins) * length}


def make_quantized(mb):
    """Already-quantized weights: int4 levels with f16 scales, groups of 32
    (exactly Q4_0), in 4096-column tensors of up to 4096 rows."""
    from quantx.gguf import QuantizedTensor
    cols = 4096
    rows_total = mb * 2**20 // (cols // 32 * 18)
    rng = np.random.default_rng(5)
    out, i = [], 0
    while rows_total > 0:
        rows = min(4096, rows_total)
        levels = rng.integers(-8, 8, (rows, cols), dtype=np.int32)
        scales = rng.uniform(1e-3, 1e-1, (rows, cols // 32)).astype(np.float16)
        out.append((f"blk.{i}.ffn_up.weight",
                    QuantizedTensor(levels, scales.astype(np.float32), None, 32)))
        rows_total -= rows
        i += 1
    return out


def emission(args):
    import gguf

    from quantx import gguf as G

    qts = make_quantized(args.mb)
    t0 = time.perf_counter()
    packed = [(n, G.RawTensor("q4_0", q.shape, q.pack("q4_0")[0])) for n, q in qts]
    pack_s = time.perf_counter() - t0
    total = sum(t.data.nbytes for _, t in packed)
    # Same-run reference for the conversion: requantizing the same weights
    # from float32 with the codecs (what export would do without the
    # lossless path); the float copies are made outside the timing.
    floats = [q.dequantize() for _, q in qts]
    from quantx import _core
    t0 = time.perf_counter()
    for x in floats:
        _core.gguf_quantize(x, "q4_0")
    requant_s = time.perf_counter() - t0
    del floats
    meta = {"general.architecture": "llama"}
    figures = {"emit_data_mb": round(total / 1e6, 1),
               "pack_mb_s": round(total / 1e6 / pack_s, 1),
               "requantize_from_f32_mb_s": round(total / 1e6 / requant_s, 1)}

    def peer(path, fsync):
        w = gguf.GGUFWriter(path, "llama")
        for name, t in packed:
            w.add_tensor(name, t.data, raw_shape=t.data.shape,
                         raw_dtype=gguf.GGMLQuantizationType.Q4_0)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        if fsync:
            fd = os.open(path, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)

    table = []
    for tag, d in (("tmpfs", "/dev/shm"), ("disk", tempfile.gettempdir())):
        if not os.path.isdir(d):
            continue
        qpath = os.path.join(d, f"quantx-emit-{os.getpid()}.gguf")
        ppath = os.path.join(d, f"peer-emit-{os.getpid()}.gguf")
        try:
            tq = best_of(lambda: G.write(qpath, meta, packed), args.repeat)
            size = os.path.getsize(qpath)
            te = best_of(lambda: G.export(qpath, meta, qts, default_type="q4_0"),
                         args.repeat)
            tp = best_of(lambda: peer(ppath, False), args.repeat)
            tpf = best_of(lambda: peer(ppath, True), args.repeat)
            psize = os.path.getsize(ppath)
        finally:
            for p in (qpath, ppath):
                if os.path.exists(p):
                    os.unlink(p)
        f = {f"quantx_write_mb_s_{tag}": round(size / 1e6 / tq, 1),
             f"quantx_export_lossless_mb_s_{tag}": round(size / 1e6 / te, 1),
             f"gguf_py_mb_s_{tag}": round(psize / 1e6 / tp, 1),
             f"gguf_py_fsync_mb_s_{tag}": round(psize / 1e6 / tpf, 1)}
        figures.update(f)
        figures[f"export_meets_500_mb_s_{tag}"] = bool(
            f[f"quantx_export_lossless_mb_s_{tag}"] >= 500)
        table.append((tag, *f.values()))
    return figures, table


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="*", default=VARIANTS)
    ap.add_argument("--windows", type=int, default=16)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backend", default="jit", choices=["jit", "torch"])
    ap.add_argument("--no-emulate", dest="emulate", action="store_false")
    ap.add_argument("--mb", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-llama", action="store_true")
    ap.add_argument("--skip-emit", action="store_true")
    args = ap.parse_args()

    load_before = os.getloadavg()
    out = {"bench": "gguf"}
    if not args.skip_llama:
        with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as d:
            rows, win = check_variants(args, d)
        out.update(win)
        out["variants"] = rows
        print(f"held-out text: {win['windows']} windows x {win['window_tokens']} tokens "
              f"of Persuasion; quantx evaluator: {rows[0].get('quantx_backend')}")
        print(f"{'variant':<8} {'load':>5} {'file bytes':>11} {'logits rel':>11} "
              f"{'ppl llama':>11} {'ppl quantx':>11} {'rel diff':>10} "
              f"{'emulated':>10} {'pass':>5}")
        for r in rows:
            if not r.get("llama_load_ok"):
                print(f"{r['variant']:<8} {'FAIL':>5} {r['file_bytes']:>11}  {r.get('llama_error')}")
                continue
            em = r.get("ppl_rel_diff_emulated")
            print(f"{r['variant']:<8} {'ok':>5} {r['file_bytes']:>11} {r['logits_rel_err']:>11.3e} "
                  f"{r['ppl_llama']:>11.5f} {r['ppl_quantx']:>11.5f} {r['ppl_rel_diff']:>+10.3e} "
                  f"{(f'{em:+.3e}' if em is not None else '-'):>10} {str(r['pass']):>5}")
        print("(logits rel = max|llama.cpp - quantx| / max|quantx|; rel diff = ppl llama.cpp / "
              "ppl quantx - 1; emulated = the same against quantx's weights with llama.cpp's "
              "activation rounding emulated)")
    if not args.skip_emit:
        figures, table = emission(args)
        out.update(figures)
        print(f"\nemission of {figures['emit_data_mb']} MB of already-quantized Q4_0 "
              f"weights (MB/s of output; quantx packs int32 levels + scales into "
              f"blocks at {figures['pack_mb_s']} MB/s, requantizing the same weights "
              f"from f32 runs at {figures['requantize_from_f32_mb_s']} MB/s)")
        print(f"{'dir':<6} {'quantx write':>13} {'quantx export':>14} {'gguf-py':>9} {'gguf-py+fsync':>14}")
        for tag, a, b, c, d in table:
            print(f"{tag:<6} {a:>13} {b:>14} {c:>9} {d:>14}")
    out["loadavg_before"] = [round(x, 2) for x in load_before]
    out["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
