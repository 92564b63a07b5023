"""GGUF emission speed for already-quantized weights: quantx against the
`gguf` package's GGUFWriter, in the same run, on the same data and directory.

Data: --mb MiB of random Q4_0 blocks in 4096-row tensors. quantx is timed
end to end as `quantx-translate --quantx-to-gguf model.mlirbc -o out.gguf`
(process start, bytecode parse, metadata, streamed tensor data, fsync,
rename); the bytecode input is prepared beforehand by importing the peer's
file with `--gguf-to-quantx-bytecode` (timed once, reported). The peer
writes the same tensors from numpy arrays with GGUFWriter; it does not fsync
on its own, so it is timed both without and with an fsync of the output.
The library writer alone (GGUFWriter::write, atomic with fsync, against plain
write()+fsync of the same bytes) comes from the Google Benchmark binary when
it is built. Each directory in --dirs is measured (tmpfs takes the disk out).

Output: a table, then one JSON line of figures (MB = 10^6 bytes).

  python bench/gguf_io.py --build-dir build --mb 256
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def make_tensors(mb):
    import gguf
    cols = 4096
    row_bytes = cols // 32 * 18
    rows_total = mb * 2**20 // row_bytes
    rng = np.random.default_rng(5)
    tensors = []
    i = 0
    while rows_total > 0:
        rows = min(4096, rows_total)
        data = rng.integers(0, 256, (rows, row_bytes), dtype=np.uint8)
        # Keep the scales finite fp16 (the bytes are opaque to both writers).
        data.reshape(rows, -1, 18)[:, :, 1] &= 0x3B
        tensors.append((f"blk.{i}.ffn_up.weight", data))
        rows_total -= rows
        i += 1
    return tensors, gguf.GGMLQuantizationType.Q4_0


def write_peer(path, tensors, qtype, fsync):
    import gguf
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(len(tensors))
    for name, data in tensors:
        w.add_tensor(name, data, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    if fsync:
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)


def library_figures(build_dir, directory):
    exe = os.path.join(build_dir, "bench", "cpp", "quantx-core-bench")
    if not os.path.exists(exe):
        return {}
    env = dict(os.environ, TMPDIR=directory)
    out = subprocess.run(
        [exe, "--benchmark_filter=BM_GGUFWriteFileAtomic|BM_RawWriteFsync",
         "--benchmark_format=json", "--benchmark_min_time=1"],
        capture_output=True, text=True, env=env, check=True).stdout
    res = {}
    for b in json.loads(out)["benchmarks"]:
        res[b["name"].split("/")[0]] = b["bytes_per_second"] / 1e6
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--mb", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dirs", nargs="*",
                    default=[d for d in ("/dev/shm", tempfile.gettempdir())
                             if os.path.isdir(d)])
    args = ap.parse_args()
    translate = os.path.join(args.build_dir, "bin", "quantx-translate")
    if not os.path.exists(translate):
        sys.exit(f"{translate} not found: build with QUANTX_ENABLE_MLIR=ON")

    tensors, qtype = make_tensors(args.mb)
    figures = {"payload_mb": sum(d.nbytes for _, d in tensors) / 1e6}
    rows = []
    with tempfile.TemporaryDirectory() as work:
        # Prepare the quantx input: the peer's file, imported and stored as
        # bytecode (not timed).
        seed = os.path.join(work, "seed.gguf")
        write_peer(seed, tensors, qtype, fsync=False)
        bc = os.path.join(work, "model.mlirbc")
        t0 = time.perf_counter()
        subprocess.run([translate, "--gguf-to-quantx-bytecode", seed,
                        "-o", bc], check=True)
        figures["import_bytecode_mb_s"] = round(
            os.path.getsize(seed) / (time.perf_counter() - t0) / 1e6, 1)

        for d in args.dirs:
            tag = "shm" if d.startswith("/dev/shm") else "disk"
            out_q = os.path.join(d, f"quantx-bench-{os.getpid()}.gguf")
            out_p = os.path.join(d, f"peer-bench-{os.getpid()}.gguf")
            tq = best_of(lambda: subprocess.run(
                [translate, "--quantx-to-gguf", bc, "-o", out_q], check=True),
                args.repeat)
            tp = best_of(lambda: write_peer(out_p, tensors, qtype, False),
                         args.repeat)
            tps = best_of(lambda: write_peer(out_p, tensors, qtype, True),
                          args.repeat)
            size_q, size_p = os.path.getsize(out_q), os.path.getsize(out_p)
            # Same tensors, same bytes.
            import gguf
            a, b = gguf.GGUFReader(out_q), gguf.GGUFReader(out_p)
            same = all(np.asarray(x.data).tobytes() == np.asarray(y.data).tobytes()
                       for x, y in zip(a.tensors, b.tensors)) and \
                len(a.tensors) == len(b.tensors)
            del a, b
            os.remove(out_q)
            os.remove(out_p)
            q_mbs, p_mbs, ps_mbs = size_q / tq / 1e6, size_p / tp / 1e6, \
                size_p / tps / 1e6
            lib = library_figures(args.build_dir, d)
            rows.append((d, q_mbs, p_mbs, ps_mbs, lib))
            figures[f"quantx_translate_emit_mb_s_{tag}"] = round(q_mbs, 1)
            figures[f"gguf_py_emit_mb_s_{tag}"] = round(p_mbs, 1)
            figures[f"gguf_py_emit_fsync_mb_s_{tag}"] = round(ps_mbs, 1)
            figures[f"emit_speedup_{tag}"] = round(q_mbs / p_mbs, 3)
            figures[f"emit_fsync_speedup_{tag}"] = round(q_mbs / ps_mbs, 3)
            if lib:
                figures[f"library_write_atomic_mb_s_{tag}"] = round(
                    lib["BM_GGUFWriteFileAtomic"], 1)
                figures[f"raw_write_fsync_mb_s_{tag}"] = round(
                    lib["BM_RawWriteFsync"], 1)
            figures[f"tensor_bytes_identical_{tag}"] = bool(same)

    print(f"{'directory':<12} {'quantx-translate':>17} {'gguf-py':>9} "
          f"{'gguf-py+fsync':>14} {'library':>9} {'raw write':>10}  (MB/s)")
    for d, q, p, ps, lib in rows:
        print(f"{d:<12} {q:>17.1f} {p:>9.1f} {ps:>14.1f} "
              f"{lib.get('BM_GGUFWriteFileAtomic', float('nan')):>9.1f} "
              f"{lib.get('BM_RawWriteFsync', float('nan')):>10.1f}")
    for d, q, *_ in rows:
        tag = "shm" if d.startswith("/dev/shm") else "disk"
        figures[f"emit_500mb_s_met_{tag}"] = bool(q >= 500)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
