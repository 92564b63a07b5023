#!/usr/bin/env python3
"""quantx GEMM kernels compiled ahead of time for another x86-64 CPU, run there.

The GEMM benchmark of bench/kernels.py for a machine that has no quantx
build: an AVX-512 VNNI server, for instance, measured from a workstation
without VNNI. Two steps:

    python bench/kernels_aot.py build KIT --target-cpu sapphirerapids \\
        [--target-features +avx512vnni] [--build-dir build]
    python bench/kernels_aot.py run KIT [--quick] [--threads 1,16]

`build` (here, with a quantx build) compiles with `quantx-run --emit-object
--target-cpu` one module holding
  - the benchmark GEMMs of bench/kernels.py: int8 x int8 -> int32
    (quantx.matmul) and f32 (linalg.matmul, quantx's own fp32 GEMM) for
    M=N=K=1024 and M=512, N=K=4096;
  - correctness cases the benchmark shapes do not reach: ragged and
    batch-1 shapes, run-time zero points on either operand, weights
    constant at compile time (packed by the compiler);
links it into KIT/libquantx_kernels.so beside the quantx CPU runtime, LLVM's
OpenMP runtime and libquantx_peaks (the peak loops of bench/cpp/PeakLoops.cpp),
and writes KIT/kit.json and the inputs of the correctness cases.

`run` (on the target machine; needs only Python 3 and numpy) loads the kit
through ctypes and prints one table:
  peaks     this machine's fp32 FMA peak (ymm and, with AVX-512, zmm) and
            int8 dot-product peaks (vpmaddwd; vpdpbusd on ymm and zmm with
            AVX512-VNNI), on 1 thread and on all threads, the larger of
            before and after the kernels;
  checks    every correctness case: exact for integers, exact for f32 on
            integer-valued inputs; the benchmark GEMMs exact against
            float64 BLAS (int8) and within 1e-5 relative (f32);
  GEMMs     quantx int8 and fp32 beside numpy float32 matmul (OpenBLAS or
            whatever BLAS numpy has there), timed as bench/kernels.py does:
            each call right after a burst of its own instruction's peak loop
            on the same threads, "of peak" the median of call / burst rates.
It ends with one JSON line of figures, named like bench/kernels.py's.
"""

import argparse
import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import kernels  # noqa: E402  (SHAPES, the MLIR sources, the timing loop)

# Correctness cases: (m, k, n) with a run-time zero point on neither, the
# lhs or the rhs; shapes that are not multiples of the 6 x 32 (or 6 x 16)
# register tile, of the 4-byte vpdpbusd groups or of the packing chunks,
# and batch 1.
ZP_SHAPES = [(13, 37, 21), (8, 16, 32), (6, 300, 16), (24, 9, 40),
             (5, 64, 16), (16, 47, 48), (1, 784, 256), (1, 5, 3),
             (3, 40, 24), (70, 520, 100)]
CONSTANT_SHAPES = [(1, 70, 40), (7, 70, 40), (30, 130, 66)]

ZP_TEMPLATE = """
#mx = affine_map<(m, n, k) -> (m, k)>
#my = affine_map<(m, n, k) -> (k, n)>
#mz = affine_map<(m, n, k) -> ()>
#mo = affine_map<(m, n, k) -> (m, n)>
func.func @{name}(%a: tensor<{m}x{k}xi8>, %b: tensor<{k}x{n}xi8>, %za: tensor<i32>, %zb: tensor<i32>) -> tensor<{m}x{n}xi32> {{
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<{m}x{n}xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<{m}x{n}xi32>) -> tensor<{m}x{n}xi32>
  %y = linalg.generic {{indexing_maps = [#mx, #my, #mz, #mz, #mo], iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%a, %b, %za, %zb : tensor<{m}x{k}xi8>, tensor<{k}x{n}xi8>, tensor<i32>, tensor<i32>) outs(%i : tensor<{m}x{n}xi32>) {{
  ^bb0(%x: i8, %w: i8, %p: i32, %q: i32, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %we = arith.extsi %w : i8 to i32
    %xs = arith.subi %xe, %p : i32
    %ws = arith.subi %we, %q : i32
    %pr = arith.muli %xs, %ws : i32
    %s = arith.addi %acc, %pr : i32
    linalg.yield %s : i32
  }} -> tensor<{m}x{n}xi32>
  return %y : tensor<{m}x{n}xi32>
}}
"""

CONSTANT_TEMPLATE = """
func.func @{name}(%a: tensor<{m}x{k}xi8>) -> tensor<{m}x{n}xi32> {{
  %b = arith.constant dense<{values}> : tensor<{k}x{n}xi8>
  %x = quantx.scast %a : tensor<{m}x{k}xi8> -> tensor<{m}x{k}x!quantx.uniform<i8:f32, scale = 0.5>>
  %w = quantx.scast %b : tensor<{k}x{n}xi8> -> tensor<{k}x{n}x!quantx.uniform<i8:f32, scale = 0.25>>
  %r = quantx.matmul %x, %w : tensor<{m}x{k}x!quantx.uniform<i8:f32, scale = 0.5>>, tensor<{k}x{n}x!quantx.uniform<i8:f32, scale = 0.25>> -> tensor<{m}x{n}xi32>
  return %r : tensor<{m}x{n}xi32>
}}
"""


def renamed(text, name):
    """bench/kernels.py's single-function module `@f` as function `name`."""
    return text.replace("func.func @f(", f"func.func @{name}(")


# ---------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------

def one_module(sources):
    """The functions of several modules in one: their type and map aliases
    (`!x = ...`, `#m = ...`, identical where names repeat) once, first."""
    aliases, bodies = {}, []
    for text in sources:
        for line in text.splitlines():
            if line[:1] in "!#" and " = " in line:
                name = line.split(" = ", 1)[0]
                if aliases.setdefault(name, line) != line:
                    raise ValueError(f"alias {name} defined two ways")
            else:
                bodies.append(line)
    return "\n".join(list(aliases.values()) + bodies) + "\n"


def llvm_library_dir():
    for tool in ("llvm-config-22", "llvm-config"):
        path = shutil.which(tool)
        if path:
            return subprocess.run([path, "--libdir"], capture_output=True,
                                  text=True, check=True).stdout.strip()
    raise FileNotFoundError("llvm-config-22 not found (llvm-22-dev)")


def build(args):
    import numpy as np
    build_dir = os.path.abspath(args.build_dir)
    kit = os.path.abspath(args.kit)
    quantx_run = os.path.join(build_dir, "bin", "quantx-run")
    runtime = os.path.join(build_dir, "lib", "libquantx_cpu_runtime.so")
    peaks = os.path.join(build_dir, "lib", "libquantx_peaks.so")
    for path in (quantx_run, runtime, peaks):
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{path} not found: build quantx with "
                f"-DQUANTX_ENABLE_BENCHMARKS=ON first")
    omp = os.path.realpath(os.path.join(llvm_library_dir(), "libomp.so"))
    linker = shutil.which("clang-22") or shutil.which("clang")
    if not linker:
        raise FileNotFoundError("clang-22 not found")

    rng = np.random.default_rng(0)
    functions, cases, arrays = [], [], {}
    for name, m, n, k in kernels.SHAPES:
        functions.append(renamed(kernels.int8_mlir(m, n, k), f"int8_{name}"))
        functions.append(renamed(kernels.f32_mlir(m, n, k), f"fp32_{name}"))
    for m, k, n in ZP_SHAPES:
        for shift in ("none", "x", "w"):
            fn = f"zp_{m}x{k}x{n}_{shift}"
            functions.append(ZP_TEMPLATE.format(name=fn, m=m, k=k, n=n))
            arrays[f"{fn}.a"] = rng.integers(-128, 128, (m, k), dtype=np.int8)
            arrays[f"{fn}.b"] = rng.integers(-128, 128, (k, n), dtype=np.int8)
            arrays[f"{fn}.za"] = np.array(-7 if shift == "x" else 0, np.int32)
            arrays[f"{fn}.zb"] = np.array(5 if shift == "w" else 0, np.int32)
            cases.append({"function": fn, "kind": "zero_points",
                          "shape": [m, k, n]})
        fn = f"f32_{m}x{k}x{n}"
        functions.append(renamed(kernels.f32_mlir(m, n, k), fn))
        arrays[f"{fn}.a"] = rng.integers(-64, 64, (m, k)).astype(np.float32)
        arrays[f"{fn}.b"] = rng.integers(-64, 64, (k, n)).astype(np.float32)
        cases.append({"function": fn, "kind": "f32", "shape": [m, k, n]})
    for m, k, n in CONSTANT_SHAPES:
        fn = f"const_{m}x{k}x{n}"
        b = rng.integers(-128, 128, (k, n), dtype=np.int8)
        values = "[" + ", ".join(
            "[" + ", ".join(str(int(v)) for v in row) + "]" for row in b) + "]"
        functions.append(CONSTANT_TEMPLATE.format(name=fn, m=m, k=k, n=n,
                                                  values=values))
        arrays[f"{fn}.a"] = rng.integers(-128, 128, (m, k), dtype=np.int8)
        arrays[f"{fn}.b"] = b
        cases.append({"function": fn, "kind": "constant", "shape": [m, k, n]})

    os.makedirs(kit, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "kernels.mlir")
        with open(src, "w") as f:
            f.write(one_module(functions))
        obj = os.path.join(tmp, "kernels.o")
        cmd = [quantx_run, src, "--emit-object", obj, "--emit-header",
               os.path.join(kit, "quantx_kernels.h"),
               "--target-cpu", args.target_cpu]
        if args.target_features:
            cmd.append(f"--target-features={args.target_features}")
        print("+", " ".join(os.path.basename(c) if c == quantx_run else c
                            for c in cmd), flush=True)
        subprocess.run(cmd, check=True)
        shutil.copy(runtime, os.path.join(kit, "libquantx_cpu_runtime.so"))
        shutil.copy(omp, os.path.join(kit, "libomp.so.5"))
        shutil.copy(peaks, os.path.join(kit, "libquantx_peaks.so"))
        # The kit's libraries are found beside the kernels ($ORIGIN); -z defs:
        # every symbol the kernels use is defined there or in libc.
        subprocess.run([linker, "-shared", "-fuse-ld=lld", "-o",
                        os.path.join(kit, "libquantx_kernels.so"), obj,
                        "-L" + kit, "-lquantx_cpu_runtime", "-l:libomp.so.5",
                        "-Wl,-rpath,$ORIGIN", "-Wl,-z,defs"], check=True)
    np.savez(os.path.join(kit, "cases.npz"), **arrays)
    lines = subprocess.run(["objdump", "-d", os.path.join(
        kit, "libquantx_kernels.so")], capture_output=True,
        text=True).stdout.splitlines()

    def count(mnemonic, register=""):
        return sum(mnemonic in l and register in l for l in lines)
    instructions = {"vpdpbusd_zmm": count("vpdpbusd", "zmm"),
                    "vpdpbusd_ymm": count("vpdpbusd", "ymm"),
                    "vfmadd_zmm": count("vfmadd", "zmm"),
                    "vfmadd_ymm": count("vfmadd", "ymm"),
                    "vpmaddwd": count("vpmaddwd")}
    meta = {"target_cpu": args.target_cpu,
            "target_features": args.target_features,
            "shapes": [list(s) for s in kernels.SHAPES],
            "cases": cases, "instructions": instructions}
    with open(os.path.join(kit, "kit.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"kit written to {args.kit}: instructions in the kernels "
          f"{instructions}")
    return 0


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------

def descriptor_type(rank):
    class Descriptor(ctypes.Structure):
        _fields_ = [("allocated", ctypes.c_void_p),
                    ("aligned", ctypes.c_void_p),
                    ("offset", ctypes.c_int64),
                    ("sizes", ctypes.c_int64 * rank),
                    ("strides", ctypes.c_int64 * rank)]
    return Descriptor


class Kit:
    """The kit's libraries and a caller of its `_mlir_ciface_` functions."""

    def __init__(self, path):
        import numpy as np
        self.np = np
        self.path = os.path.abspath(path)
        with open(os.path.join(self.path, "kit.json")) as f:
            self.meta = json.load(f)
        self.omp = ctypes.CDLL(os.path.join(self.path, "libomp.so.5"),
                               mode=ctypes.RTLD_GLOBAL)
        self.runtime = ctypes.CDLL(
            os.path.join(self.path, "libquantx_cpu_runtime.so"),
            mode=ctypes.RTLD_GLOBAL)
        self.runtime._mlir_memref_to_llvm_free.argtypes = [ctypes.c_void_p]
        self.lib = ctypes.CDLL(os.path.join(self.path,
                                            "libquantx_kernels.so"))
        self.peaks = kernels.open_peak_library(
            os.path.join(self.path, "libquantx_peaks.so"))

    def set_threads(self, threads):
        self.omp.omp_set_num_threads(ctypes.c_int(threads))

    def _descriptor(self, array):
        d = descriptor_type(max(array.ndim, 1))()
        d.allocated = d.aligned = array.ctypes.data
        d.offset = 0
        for i, (size, stride) in enumerate(zip(array.shape, array.strides)):
            d.sizes[i] = size
            d.strides[i] = stride // array.itemsize
        return d

    def function(self, name, out_shape, out_dtype, keep=True):
        """A Python callable: numpy arrays in, a new numpy array out (or
        nothing with keep=False: the result is released uncopied, so that
        timings count the kernel alone)."""
        np = self.np
        fn = getattr(self.lib, f"_mlir_ciface_{name}")
        rank = len(out_shape)
        count = int(np.prod(out_shape))
        ctype = np.ctypeslib.as_ctypes_type(np.dtype(out_dtype))
        free = self.runtime._mlir_memref_to_llvm_free

        def call(*arrays):
            arrays = [np.ascontiguousarray(a) for a in arrays]
            result = descriptor_type(rank)()
            args = [self._descriptor(a) for a in arrays]
            fn(ctypes.byref(result), *(ctypes.byref(a) for a in args))
            if not keep:
                free(result.allocated)
                return None
            data = ctypes.cast(result.aligned, ctypes.POINTER(ctype))
            out = np.ctypeslib.as_array(data, (count,)).copy().reshape(
                out_shape)
            free(result.allocated)
            return out
        return call


def cpu_description():
    name, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and name == "unknown":
                    name = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
              "avx_vnni", "amx_int8"]
    return name, [f for f in wanted if f in flags]


def run_cases(kit):
    """Every correctness case of the kit against numpy; a list of failures."""
    np = kit.np
    data = np.load(os.path.join(kit.path, "cases.npz"))
    failures = []
    for case in kit.meta["cases"]:
        fn, (m, _, n) = case["function"], case["shape"]
        a, b = data[f"{fn}.a"], data[f"{fn}.b"]
        if case["kind"] == "zero_points":
            za, zb = data[f"{fn}.za"], data[f"{fn}.zb"]
            want = ((a.astype(np.int64) - za) @ (b.astype(np.int64) - zb))
            got = kit.function(fn, (m, n), np.int32)(a, b, za, zb)
            got = kit.function(fn, (m, n), np.int32)(a, b, za, zb)  # reuse
        elif case["kind"] == "f32":
            want = a.astype(np.float64) @ b.astype(np.float64)
            got = kit.function(fn, (m, n), np.float32)(a, b)
        else:
            want = a.astype(np.int64) @ b.astype(np.int64)
            got = kit.function(fn, (m, n), np.int32)(a)
        if not np.array_equal(got.astype(np.float64), want.astype(np.float64)):
            failures.append(fn)
    return len(kit.meta["cases"]), failures


def peak_kinds(kit):
    """The peak loop kinds that match the kit's kernels: (int8, fp32)."""
    ins = kit.meta["instructions"]
    int8 = ("int8_vnni_zmm" if ins["vpdpbusd_zmm"] else
            "int8_vnni" if ins["vpdpbusd_ymm"] else "int8_dot")
    fp32 = "fp32_fma_zmm" if ins["vfmadd_zmm"] else "fp32_fma"
    return int8, fp32


def measure_peaks(kit, kinds, threads_list, seconds):
    out = {}
    for kind in kinds:
        if not kit.peaks.quantx_peak_kind_supported(kind.encode()):
            continue
        per_iter = kit.peaks.quantx_peak_ops_per_iteration(kind.encode())
        for threads in threads_list:
            rate = kit.peaks.quantx_peak_rate(kind.encode(), threads, 100000)
            iters = max(100000, int(seconds * rate / (per_iter * threads)))
            out[(kind, threads)] = max(
                kit.peaks.quantx_peak_rate(kind.encode(), threads, iters)
                for _ in range(3))
    return out


def run(args):
    import numpy as np
    kit = Kit(args.kit)
    os.environ["KMP_BLOCKTIME"] = "1"
    all_threads = len(os.sched_getaffinity(0))
    threads_list = ([int(t) for t in args.threads.split(",")]
                    if args.threads else sorted({1, all_threads}))
    cpu, flags = cpu_description()
    int8_kind, fp32_kind = peak_kinds(kit)
    for kind in (int8_kind, fp32_kind):
        if not kit.peaks.quantx_peak_kind_supported(kind.encode()):
            raise RuntimeError(f"this CPU ({cpu}) cannot run the kit's "
                               f"kernels: no {kind} peak loop support")
    load_start = os.getloadavg()[0]
    print(f"CPU: {cpu}; {all_threads} threads; flags {' '.join(flags)}")
    print(f"kit: compiled for {kit.meta['target_cpu']} "
          f"{kit.meta['target_features'] or ''}; instructions "
          f"{kit.meta['instructions']}", flush=True)

    figures = {"cpu": cpu, "threads_all": all_threads,
               "target_cpu": kit.meta["target_cpu"]}
    t0 = time.perf_counter()
    cases, failures = run_cases(kit)
    figures["correctness_cases"] = cases
    figures["correctness_cases_all_exact"] = not failures
    print(f"correctness: {cases - len(failures)}/{cases} cases exact "
          f"({time.perf_counter() - t0:.1f} s)"
          + (f"; FAILED: {', '.join(failures)}" if failures else ""),
          flush=True)

    if args.check_only:
        print(json.dumps(figures))
        return 0 if not failures else 1

    kinds = ["fp32_fma", "int8_dot", "fp32_fma_zmm", "int8_vnni",
             "int8_vnni_zmm"]
    seconds = 0.05 if args.quick else 0.2
    before = measure_peaks(kit, kinds, threads_list, seconds)

    reps = 3 if args.quick else 7
    rounds = 5 if args.quick else 15
    rng = np.random.default_rng(0)
    timings = []
    for name, m, n, k in kit.meta["shapes"]:
        a8 = rng.integers(-128, 128, (m, k), dtype=np.int8)
        b8 = rng.integers(-128, 128, (k, n), dtype=np.int8)
        af = rng.standard_normal((m, k)).astype(np.float32)
        bf = rng.standard_normal((k, n)).astype(np.float32)
        f8 = kit.function(f"int8_{name}", (m, n), np.int32)
        ff = kit.function(f"fp32_{name}", (m, n), np.float32)
        # |sums| < 2^53: float64 BLAS is exact for int8 products.
        ref8 = (a8.astype(np.float64) @ b8.astype(np.float64))
        reff = af.astype(np.float64) @ bf.astype(np.float64)
        kit.set_threads(all_threads)
        exact = bool(np.array_equal(f8(a8, b8).astype(np.float64), ref8))
        err = float(np.abs(ff(af, bf) - reff).max() / np.abs(reff).max())
        figures[f"int8_gemm_{name}_exact"] = exact
        figures[f"fp32_gemm_{name}_max_rel_err"] = err
        if not exact or err > 1e-5:
            raise RuntimeError(f"GEMM {name}: int8 exact {exact}, fp32 "
                               f"relative error {err:.2e}")
        t8_fn = kit.function(f"int8_{name}", (m, n), np.int32, keep=False)
        tf_fn = kit.function(f"fp32_{name}", (m, n), np.float32, keep=False)
        for threads in threads_list:
            kit.set_threads(threads)
            res = kernels.paired_timing(
                kit.peaks, threads,
                {"int8": (int8_kind, t8_fn, (a8, b8)),
                 "fp32": (fp32_kind, tf_fn, (af, bf))}, rounds)
            t8, tf, frac8, fracf = kernels.paired_summary(res,
                                                          2.0 * m * n * k)
            tb = kernels.bench_openblas(m, n, k, threads, reps)
            timings.append((name, m, n, k, threads, t8, tf, tb, frac8, fracf))
            print(f"  {name} on {threads} threads: int8 {t8 * 1e3:.2f} ms, "
                  f"fp32 {tf * 1e3:.2f} ms, numpy f32 {tb * 1e3:.2f} ms",
                  flush=True)
    after = measure_peaks(kit, kinds, threads_list, seconds)
    peaks = {key: max(before[key], after[key]) for key in before}
    for (kind, threads), value in peaks.items():
        figures[f"{kind}_gops_{threads}t"] = value / 1e9
        figures[f"{kind}_gops_{threads}t_before"] = before[(kind, threads)] / 1e9
        figures[f"{kind}_gops_{threads}t_after"] = after[(kind, threads)] / 1e9

    print()
    print(f"Peaks measured in this run (GOP/s, 2 per multiply-add; the larger "
          f"of before/after the kernels; load {load_start:.2f} at start):")
    labels = {"fp32_fma": "fp32 FMA vfmadd231ps ymm",
              "fp32_fma_zmm": "fp32 FMA vfmadd231ps zmm",
              "int8_dot": "int8 vpmaddwd+vpaddd ymm",
              "int8_vnni": "int8 VNNI vpdpbusd ymm",
              "int8_vnni_zmm": "int8 VNNI vpdpbusd zmm"}
    for kind in kinds:
        row = [f"{peaks[(kind, t)] / 1e9:9.1f} ({t} thr)" for t in threads_list
               if (kind, t) in peaks]
        if row:
            print(f"  {labels[kind]:28} " + "  ".join(row))
    print()
    print(f"'of peak': median over rounds of the call's rate / the rate of the "
          f"{int8_kind} (int8) or {fp32_kind} (fp32) burst just before it; in "
          f"brackets: / the best peak above")
    print(f"{'kernel':22} {'thr':>3} {'quantx ms':>10} {'rate':>15} "
          f"{'of peak':>13} {'numpy f32 ms':>13} {'vs numpy':>9} "
          f"{'int8 vs fp32':>12}")
    for name, m, n, k, threads, t8, tf, tb, frac8, fracf in timings:
        peak8 = peaks[(int8_kind, threads)] / 1e9
        peakf = peaks[(fp32_kind, threads)] / 1e9
        sfx = "" if threads == 1 else f"_{threads}t"
        g8, gf, gb = kernels.add_gemm_figures(
            figures, name, sfx, 2.0 * m * n * k, t8, tf, tb, frac8, fracf,
            peak8, peakf, "numpy")
        print(f"{'int8 GEMM ' + name:22} {threads:3d} {t8 * 1e3:10.2f} "
              f"{g8:9.1f} GOP/s {frac8:5.2f} ({g8 / peak8:4.2f}) "
              f"{tb * 1e3:13.2f} {tb / t8:8.2f}x {tf / t8:11.2f}x")
        print(f"{'fp32 GEMM ' + name:22} {threads:3d} {tf * 1e3:10.2f} "
              f"{gf:7.1f} GFLOP/s {fracf:5.2f} ({gf / peakf:4.2f}) "
              f"{tb * 1e3:13.2f} {tb / tf:8.2f}x")
    kernels.add_gemm_targets(figures)
    figures["int8_peak_kind"] = int8_kind
    figures["fp32_peak_kind"] = fp32_kind
    figures["load_avg_1m_start"] = load_start
    figures["load_avg_1m_end"] = os.getloadavg()[0]
    print(json.dumps(figures))
    return 0 if not failures else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="compile the kit (needs a quantx build)")
    b.add_argument("kit")
    b.add_argument("--target-cpu", required=True,
                   help="LLVM's name of the target CPU (sapphirerapids, "
                        "znver4, x86-64-v4, ...)")
    b.add_argument("--target-features", default="",
                   help="features to add or remove (+avx512vnni)")
    b.add_argument("--build-dir", default=os.environ.get(
        "QUANTX_BUILD_DIR", os.path.join(ROOT, "build")))
    r = sub.add_parser("run", help="run the kit (needs only numpy)")
    r.add_argument("kit")
    r.add_argument("--quick", action="store_true", help="fewer repetitions")
    r.add_argument("--check-only", action="store_true",
                   help="run the correctness cases only (no timing)")
    r.add_argument("--threads", default="",
                   help="comma-separated thread counts (default: 1 and all)")
    args = ap.parse_args()
    return build(args) if args.command == "build" else run(args)


if __name__ == "__main__":
    sys.exit(main())
