"""quantx.jit: compile MLIR in-process and call it on numpy arrays.

Results are compared with numpy references computed here: exactly for
integer paths and for float paths whose order of operations is the same.
"""

import gc
import os
import resource
import sys

import numpy as np
import pytest

import quantx

if not os.path.exists(os.path.join(os.path.dirname(quantx.__file__),
                                   "libQuantXCAPI.so")):
    pytest.skip("built without MLIR (QUANTX_ENABLE_MLIR=OFF): no C API",
                allow_module_level=True)

import quantx.ir as ir  # noqa: E402
import quantx.jit as jit  # noqa: E402

ELEMENTWISE = """
func.func @add(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %s = arith.addf %a, %b : tensor<4xf32>
  return %s : tensor<4xf32>
}
func.func @dynamic(%x: tensor<?xf32>) -> tensor<?xf32> {
  return %x : tensor<?xf32>
}
"""

ROUNDTRIP = """
!q = !quantx.uniform<u8:f32, axis = 1, offset = zero_point>
func.func @f(%x: tensor<64x96xf32>, %s: tensor<96xf32>, %z: tensor<96xi32>) -> (tensor<64x96x!q>, tensor<64x96xf32>) {
  %q = quantx.quantize %x scale(%s : tensor<96xf32>) offset(%z : tensor<96xi32>) : tensor<64x96xf32> -> tensor<64x96x!q>
  %d = quantx.dequantize %q scale(%s : tensor<96xf32>) offset(%z : tensor<96xi32>) : tensor<64x96x!q> -> tensor<64x96xf32>
  return %q, %d : tensor<64x96x!q>, tensor<64x96xf32>
}
"""


@pytest.fixture(scope="module")
def add():
    return jit.compile(ELEMENTWISE)["add"]


def test_call_matches_numpy_and_leaves_inputs_alone(add):
    a = np.arange(4, dtype=np.float32)
    b = np.array([0.5, -1, 2, 1e30], np.float32)
    a0, b0 = a.copy(), b.copy()
    y = add(a, b)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32 and y.shape == (4,)
    np.testing.assert_array_equal(y, a + b)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)
    assert y.flags.writeable and y.flags.c_contiguous
    y[0] = 5  # The result's memory is its own.
    np.testing.assert_array_equal(add(a, b), a + b)


def test_signature(add):
    assert [t.dtype for t in add.arguments] == [np.float32, np.float32]
    assert add.arguments[0].shape == (4,)
    assert add.results[0].mlir_type == "tensor<4xf32>"
    assert "add" in repr(add)


def test_quantize_dequantize_multiple_results_match_numpy():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 96)) * 3).astype(np.float32)
    x[3, 5] = np.nan
    x[7, 1] = 1e30
    scale = rng.uniform(0.01, 0.1, 96).astype(np.float32)
    zp = rng.integers(0, 256, 96).astype(np.int32)
    q, d = jit.compile(ROUNDTRIP)["f"](x, scale, zp)
    xs = np.where(np.isnan(x), np.float32(0), x) / scale
    ref = np.clip(np.round(xs) + zp.astype(np.float32), 0, 255).astype(np.uint8)
    assert q.dtype == np.uint8
    np.testing.assert_array_equal(q, ref)
    np.testing.assert_array_equal(d, scale * (ref.astype(np.int64) - zp).astype(np.float32))


def test_int8_matmul_exact():
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, (16, 64)).astype(np.int8)
    w = rng.integers(-127, 128, (24, 64)).astype(np.int8)
    bias = rng.integers(-1000, 1000, 24).astype(np.int32)
    cm = jit.compile("""
!a = !quantx.uniform<i8:f32, scale = 0.5, zero_point = -3>
!w = !quantx.uniform<i8<-127:127>:f32, scale = 0.25>
func.func @f(%ai: tensor<16x64xi8>, %wi: tensor<24x64xi8>, %b: tensor<24xi32>) -> tensor<16x24xi32> {
  %a = quantx.scast %ai : tensor<16x64xi8> -> tensor<16x64x!a>
  %w = quantx.scast %wi : tensor<24x64xi8> -> tensor<24x64x!w>
  %y = quantx.matmul %a, %w bias(%b : tensor<24xi32>) {transpose_rhs} : tensor<16x64x!a>, tensor<24x64x!w> -> tensor<16x24xi32>
  return %y : tensor<16x24xi32>
}""")
    y = cm["f"](a, w, bias)
    np.testing.assert_array_equal(y, (a.astype(np.int32) + 3) @ w.astype(np.int32).T + bias)


@pytest.mark.parametrize("mlir,dtype", [
    ("f64", np.float64), ("f16", np.float16), ("i8", np.int8),
    ("i16", np.int16), ("i32", np.int32), ("i64", np.int64)])
def test_element_types(mlir, dtype):
    op = "arith.addf" if mlir.startswith("f") else "arith.addi"
    cm = jit.compile(f"""
func.func @f(%a: tensor<2x3x{mlir}>, %b: tensor<2x3x{mlir}>) -> (tensor<2x3x{mlir}>, tensor<2x3xi1>) {{
  %s = {op} %a, %b : tensor<2x3x{mlir}>
  %c = arith.cmp{op[-1]} {'olt' if op.endswith('f') else 'slt'}, %a, %b : tensor<2x3x{mlir}>
  return %s, %c : tensor<2x3x{mlir}>, tensor<2x3xi1>
}}""")
    a = np.array([[1, -2, 3], [4, 5, -6]], dtype)
    b = np.array([[7, 8, -9], [-1, 5, 2]], dtype)
    s, c = cm["f"](a, b)
    assert s.dtype == dtype and c.dtype == np.bool_
    np.testing.assert_array_equal(s, a + b)
    np.testing.assert_array_equal(c, a < b)


def test_rank_zero_empty_and_bf16_tensors():
    cm = jit.compile("""
func.func @e(%a: tensor<0x4xf32>) -> tensor<0x4xf32> {
  %s = arith.addf %a, %a : tensor<0x4xf32>
  return %s : tensor<0x4xf32>
}
func.func @b(%a: tensor<3xbf16>) -> (tensor<3xbf16>, tensor<3xf32>) {
  %s = arith.addf %a, %a : tensor<3xbf16>
  %f = arith.extf %a : tensor<3xbf16> to tensor<3xf32>
  return %s, %f : tensor<3xbf16>, tensor<3xf32>
}
func.func @r0(%a: tensor<f32>) -> tensor<f32> {
  %s = arith.mulf %a, %a : tensor<f32>
  return %s : tensor<f32>
}""")
    e = cm["e"](np.zeros((0, 4), np.float32))
    assert e.shape == (0, 4) and e.dtype == np.float32
    # bf16 travels as its raw bits in uint16 arrays.
    x = np.array([1.0, -2.5, 3.0], np.float32)
    s, f = cm["b"]((x.view(np.uint32) >> 16).astype(np.uint16))
    assert s.dtype == np.uint16
    np.testing.assert_array_equal((s.astype(np.uint32) << 16).view(np.float32), 2 * x)
    np.testing.assert_array_equal(f, x)
    r = cm["r0"](np.array(3.0, np.float32))
    assert r.shape == () and r == 9.0


def test_zero_arguments_and_constants_repeatedly():
    fn = jit.compile("""
func.func @c() -> tensor<3xi64> {
  %c = arith.constant dense<[7, -8, 9]> : tensor<3xi64>
  return %c : tensor<3xi64>
}""")["c"]
    for _ in range(3):
        np.testing.assert_array_equal(fn(), [7, -8, 9])


def test_identity_returns_a_copy_of_non_contiguous_input():
    fn = jit.compile("""
func.func @id(%a: tensor<3x2xf64>) -> tensor<3x2xf64> {
  return %a : tensor<3x2xf64>
}""")["id"]
    m = np.arange(6, dtype=np.float64).reshape(2, 3)
    y = fn(m.T)
    np.testing.assert_array_equal(y, m.T)
    y[0, 0] = 42
    assert m[0, 0] == 0


def test_compile_module_object_and_explicit_pipeline():
    ctx = ir.Context()
    m = ir.Module.parse(ctx, ELEMENTWISE)
    before = str(m)
    cm = jit.compile(m, pipeline="quantx-cpu-pipeline")
    assert str(m) == before
    assert cm.functions == ["add", "dynamic"]
    assert "add" in cm
    a = np.ones(4, np.float32)
    np.testing.assert_array_equal(cm["add"](a, a), 2 * a)


def test_function_outlives_its_module():
    fn = jit.compile(ELEMENTWISE)["add"]
    gc.collect()
    a = np.ones(4, np.float32)
    np.testing.assert_array_equal(fn(a, a), 2 * a)


def test_errors(add):
    a = np.ones(4, np.float32)
    with pytest.raises(TypeError, match=r"function 'add' takes 2 arguments, 1 given"):
        add(a)
    with pytest.raises(TypeError, match=r"argument #1 of 'add' \(tensor<4xf32>\): "
                                        r"expected dtype float32, got float64"):
        add(a, a.astype(np.float64))
    with pytest.raises(ValueError, match=r"argument #0 of 'add' \(tensor<4xf32>\): "
                                         r"expected shape \(4,\), got \(2, 2\)"):
        add(a.reshape(2, 2), a)
    cm = jit.compile(ELEMENTWISE)
    with pytest.raises(KeyError, match="no public function 'nope'.*available: add, dynamic"):
        cm["nope"]
    with pytest.raises(jit.QuantXError, match="only ranked tensors of static shape"):
        cm["dynamic"]
    with pytest.raises(jit.QuantXError, match="invalid pass pipeline 'bogus'"):
        jit.compile(ELEMENTWISE, pipeline="bogus")
    with pytest.raises(jit.QuantXError, match="expected"):
        jit.compile("func.func @f(")


def test_lowering_failure_carries_the_diagnostics():
    with pytest.raises(jit.QuantXError, match=r"(?s)lowering failed.*quantx\.matmul"):
        jit.compile("""
func.func @conv(%x: tensor<2x4xi8>, %w: tensor<4x4xi8>) -> tensor<2x4xf32> {
  %a = quantx.scast %x : tensor<2x4xi8> -> tensor<2x4x!quantx.uniform<i8:f32, scale = 1.0>>
  %q = quantx.scast %w : tensor<4x4xi8> -> tensor<4x4x!quantx.uniform<i8:f32, blocks = {1 : 2}, scales = dense<[[1.0, 2.0]]> : tensor<1x2xf32>>>
  %y = quantx.matmul %a, %q {transpose_rhs} : tensor<2x4x!quantx.uniform<i8:f32, scale = 1.0>>, tensor<4x4x!quantx.uniform<i8:f32, blocks = {1 : 2}, scales = dense<[[1.0, 2.0]]> : tensor<1x2xf32>>> -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}""")


def test_results_do_not_leak():
    fn = jit.compile("""
func.func @neg(%a: tensor<256x1024xf32>) -> tensor<256x1024xf32> {
  %s = arith.negf %a : tensor<256x1024xf32>
  return %s : tensor<256x1024xf32>
}""")["neg"]
    x = np.ones((256, 1024), np.float32)  # 1 MiB per result
    fn(x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(500):
        y = fn(x)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    np.testing.assert_array_equal(y, -x)
    # A leak of the callee's or the C API's buffer would cost 500 MiB.
    assert after - before < 100 * 1024, (before, after)


def test_intermediate_buffers_do_not_leak():
    # %s and %m are buffers of the callee alone: the pipeline must free them
    # after their last use (once it did not, and each call kept 2 MiB).
    fn = jit.compile("""
func.func @f(%a: tensor<256x1024xf32>) -> tensor<256x1024xf32> {
  %s = arith.negf %a : tensor<256x1024xf32>
  %m = arith.mulf %s, %a : tensor<256x1024xf32>
  %t = arith.addf %m, %s : tensor<256x1024xf32>
  return %t : tensor<256x1024xf32>
}""")["f"]
    x = np.full((256, 1024), 3, np.float32)
    fn(x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(500):
        y = fn(x)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    np.testing.assert_array_equal(y, np.full_like(x, -12))
    assert after - before < 100 * 1024, (before, after)


def test_results_share_nothing():
    fn = jit.compile("""
func.func @two(%a: tensor<8xi32>) -> (tensor<8xi32>, tensor<8xi32>, tensor<8xi32>) {
  %s = arith.addi %a, %a : tensor<8xi32>
  return %s, %s, %a : tensor<8xi32>, tensor<8xi32>, tensor<8xi32>
}""")["two"]
    a = np.arange(8, dtype=np.int32)
    r0, r1, r2 = fn(a)
    r0[0] = 100
    r2[1] = 200
    assert r1[0] == 0 and a[1] == 1
    np.testing.assert_array_equal(r1, 2 * a)
    views = [fn(a)[0][2:] for _ in range(3)]  # Views outlive their arrays.
    gc.collect()
    for v in views:
        np.testing.assert_array_equal(v, 2 * a[2:])


def test_benchmarks(add):
    a = np.ones(4, np.float32)
    r = add.benchmark(a, a, warmup=2, repetitions=7)
    assert len(r.times) == 7 and all(t >= 0 for t in r.times)
    assert r.min <= r.median <= r.max
    assert "add: 7 runs, median" in repr(r)
    p = jit.benchmark(np.add, a, a, repetitions=5)
    assert len(p.times) == 5 and p.name == "add"
    with pytest.raises(ValueError):
        add.benchmark(a, a, repetitions=0)


GEMM_RUNTIME_RHS = """
!a = !quantx.uniform<i8:f32, scale = 0.5, zero_point = -3>
!w = !quantx.uniform<i8<-127:127>:f32, scale = 0.25>
func.func @f(%ai: tensor<{m}x{k}xi8>, %wi: tensor<{k}x{n}xi8>, %b: tensor<{n}xi32>) -> tensor<{m}x{n}xi32> {{
  %a = quantx.scast %ai : tensor<{m}x{k}xi8> -> tensor<{m}x{k}x!a>
  %w = quantx.scast %wi : tensor<{k}x{n}xi8> -> tensor<{k}x{n}x!w>
  %y = quantx.matmul %a, %w bias(%b : tensor<{n}xi32>) : tensor<{m}x{k}x!a>, tensor<{k}x{n}x!w> -> tensor<{m}x{n}xi32>
  return %y : tensor<{m}x{n}xi32>
}}
"""

GEMM_F32 = """
func.func @f(%a: tensor<{m}x{k}xf32>, %b: tensor<{k}x{n}xf32>) -> tensor<{m}x{n}xf32> {{
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{m}x{n}xf32>
  %i = linalg.fill ins(%z : f32) outs(%e : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  %y = linalg.matmul ins(%a, %b : tensor<{m}x{k}xf32>, tensor<{k}x{n}xf32>) outs(%i : tensor<{m}x{n}xf32>) -> tensor<{m}x{n}xf32>
  return %y : tensor<{m}x{n}xf32>
}}
"""


@pytest.mark.parametrize("m,k,n", [(16, 9, 64), (24, 37, 40), (12, 144, 48),
                                   (8, 600, 16), (5, 70, 1030), (3, 130, 2050),
                                   (7, 33, 96)])
def test_gemm_with_runtime_rhs_exact(m, k, n):
    # The right-hand side is packed at run time (vector loads along n for
    # whole column tiles, in parallel groups of tiles and blocks of k, the
    # scalar loop for a partial last tile, zeros past K) and the output
    # starts from zero without a fill: exact against numpy for int8, and
    # for f32 on integer values (exact sums). 1030 and 2050 columns make
    # four groups, the last one ending in a partial tile; 96 columns take
    # the narrower int8 tile on AVX-512 VNNI.
    rng = np.random.default_rng(m * k + n)
    a = rng.integers(-128, 128, (m, k)).astype(np.int8)
    w = rng.integers(-127, 128, (k, n)).astype(np.int8)
    bias = rng.integers(-1000, 1000, n).astype(np.int32)
    y = jit.compile(GEMM_RUNTIME_RHS.format(m=m, k=k, n=n))["f"](a, w, bias)
    np.testing.assert_array_equal(
        y, (a.astype(np.int32) + 3) @ w.astype(np.int32) + bias)
    af = rng.integers(-64, 64, (m, k)).astype(np.float32)
    bf = rng.integers(-64, 64, (k, n)).astype(np.float32)
    fn = jit.compile(GEMM_F32.format(m=m, k=k, n=n))["f"]
    for _ in range(2):  # the output buffer is reused: no stale values
        np.testing.assert_array_equal(fn(af, bf), af @ bf)


BATCH_MATMUL = """
func.func @f(%a: tensor<{b}x{m}x{k}x{t}>, %w: tensor<{b}x{k}x{n}x{t}>) -> tensor<{b}x{m}x{n}x{acc}> {{
  %z = arith.constant 0{dot} : {acc}
  %e = tensor.empty() : tensor<{b}x{m}x{n}x{acc}>
  %i = linalg.fill ins(%z : {acc}) outs(%e : tensor<{b}x{m}x{n}x{acc}>) -> tensor<{b}x{m}x{n}x{acc}>
  %y = linalg.batch_matmul ins(%a, %w : tensor<{b}x{m}x{k}x{t}>, tensor<{b}x{k}x{n}x{t}>) outs(%i : tensor<{b}x{m}x{n}x{acc}>) -> tensor<{b}x{m}x{n}x{acc}>
  return %y : tensor<{b}x{m}x{n}x{acc}>
}}
"""

# Attention's Q K^T: the rhs read transposed, (b, n, k).
BATCH_MATMUL_T = """
#q = affine_map<(b, m, n, k) -> (b, m, k)>
#kt = affine_map<(b, m, n, k) -> (b, n, k)>
#o = affine_map<(b, m, n, k) -> (b, m, n)>
func.func @f(%a: tensor<{b}x{m}x{k}xf32>, %w: tensor<{b}x{n}x{k}xf32>) -> tensor<{b}x{m}x{n}xf32> {{
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{b}x{m}x{n}xf32>
  %i = linalg.fill ins(%z : f32) outs(%e : tensor<{b}x{m}x{n}xf32>) -> tensor<{b}x{m}x{n}xf32>
  %y = linalg.generic {{indexing_maps = [#q, #kt, #o], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}}
      ins(%a, %w : tensor<{b}x{m}x{k}xf32>, tensor<{b}x{n}x{k}xf32>) outs(%i : tensor<{b}x{m}x{n}xf32>) {{
  ^bb0(%x: f32, %v: f32, %acc: f32):
    %p = arith.mulf %x, %v : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }} -> tensor<{b}x{m}x{n}xf32>
  return %y : tensor<{b}x{m}x{n}xf32>
}}
"""


@pytest.mark.parametrize("b,m,k,n", [(4, 255, 64, 255), (3, 13, 37, 21), (2, 1, 40, 24),
                                     (5, 64, 255, 64), (1, 16, 8, 32)])
def test_batched_products_run_as_gemms_exact(b, m, k, n):
    # Batched products (linalg.batch_matmul, attention's Q K^T with the rhs
    # read transposed) are a loop of GEMMs over the batch, on views of each
    # batch element: parallel over the batch when each product is small,
    # else around parallel products (the first shape is large enough with
    # a threshold of 0). Exact for f32 on integer values and for int8, on
    # every element of the batch.
    rng = np.random.default_rng(b * m * k + n)
    af = rng.integers(-64, 64, (b, m, k)).astype(np.float32)
    wf = rng.integers(-64, 64, (b, k, n)).astype(np.float32)
    want = np.einsum("bmk,bkn->bmn", af, wf)
    for pipeline in (None, "quantx-cpu-pipeline{gemm-min-parallel-work=0}"):
        fn = jit.compile(BATCH_MATMUL.format(b=b, m=m, k=k, n=n, t="f32", acc="f32",
                                             dot=".0"), pipeline)["f"]
        for _ in range(2):  # buffers are reused: no stale values
            np.testing.assert_array_equal(fn(af, wf), want)
    wt = np.ascontiguousarray(wf.transpose(0, 2, 1))
    fn = jit.compile(BATCH_MATMUL_T.format(b=b, m=m, k=k, n=n))["f"]
    np.testing.assert_array_equal(fn(af, wt), want)
    ai = rng.integers(-128, 128, (b, m, k)).astype(np.int8)
    wi = rng.integers(-128, 128, (b, k, n)).astype(np.int8)
    text = (BATCH_MATMUL.format(b=b, m=m, k=k, n=n, t="i8", acc="i32", dot="")
            .replace("linalg.batch_matmul ins", "linalg.batch_matmul "
                     "{cast = #linalg.type_fn<cast_signed>} ins"))
    np.testing.assert_array_equal(
        jit.compile(text)["f"](ai, wi),
        np.einsum("bmk,bkn->bmn", ai.astype(np.int32), wi.astype(np.int32)))


def _bench_module(name):
    """A module of bench/ (stdlib-only at import), for the MLIR sources the
    benchmarks and these tests share."""
    import importlib.util
    source = os.environ.get("QUANTX_SOURCE_DIR", os.path.join(
        os.path.dirname(__file__), "..", ".."))
    bench = os.path.join(source, "bench")
    sys.path.insert(0, bench)
    try:
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(bench, name + ".py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(bench)
    return module


# The zero-point GEMM of bench/kernels_aot.py, its shifts of x and w made
# optional.
GEMM_ZERO_POINTS = (_bench_module("kernels_aot").ZP_TEMPLATE
                    .replace("@{name}(", "@f(")
                    .replace("%xs = arith.subi %xe, %p : i32", "{x_shift}")
                    .replace("%ws = arith.subi %we, %q : i32", "{w_shift}"))
assert "{x_shift}" in GEMM_ZERO_POINTS and "{w_shift}" in GEMM_ZERO_POINTS


@pytest.mark.parametrize("m,k,n", [(13, 37, 21), (8, 16, 32), (6, 300, 16),
                                   (24, 9, 40), (5, 64, 16), (16, 47, 48),
                                   (1, 784, 256), (1, 5, 3), (3, 40, 24),
                                   (255, 33, 32), (35, 20, 16), (9, 12, 16)])
@pytest.mark.parametrize("shift", ["none", "x", "w"])
def test_gemm_lhs_packing_exact(m, k, n, shift):
    # The left-hand side is packed with vectors for whole row panels and
    # whole 32-byte chunks of k, element by element for a partial last
    # panel and the last k values; with a run-time zero point on either
    # side (the packed values or the row sums change). Fewer rows than the
    # register tile (batch 1) get a tile of those rows. Exact for int8.
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a = rng.integers(-128, 128, (m, k)).astype(np.int8)
    b = rng.integers(-128, 128, (k, n)).astype(np.int8)
    za = np.array(-7 if shift == "x" else 0, np.int32)
    zb = np.array(5 if shift == "w" else 0, np.int32)
    text = GEMM_ZERO_POINTS.format(
        m=m, k=k, n=n,
        x_shift=("%xs = arith.subi %xe, %p : i32" if shift == "x"
                 else "%xs = arith.addi %xe, %c0 : i32"),
        w_shift=("%ws = arith.subi %we, %q : i32" if shift == "w"
                 else "%ws = arith.addi %we, %c0 : i32"))
    fn = jit.compile(text)["f"]
    want = (a.astype(np.int32) - za) @ (b.astype(np.int32) - zb)
    for _ in range(2):  # buffers are reused: no stale values
        np.testing.assert_array_equal(fn(a, b, za, zb), want)
    af = rng.integers(-64, 64, (m, k)).astype(np.float32)
    bf = rng.integers(-64, 64, (k, n)).astype(np.float32)
    np.testing.assert_array_equal(
        jit.compile(GEMM_F32.format(m=m, k=k, n=n))["f"](af, bf), af @ bf)


@pytest.mark.parametrize("m,k,n", [(13, 37, 21), (8, 16, 32), (1, 784, 256),
                                   (1, 5, 3), (70, 520, 100), (100, 30, 50),
                                   (255, 40, 48), (21, 9, 32)])
def test_gemm_f32_512_bit_tiles_exact(m, k, n):
    # The 8 x 32 tiles of 512-bit vectors that AVX-512 targets get: the
    # pass follows target-features, so they are generated here too, and
    # LLVM splits each vector in two on a host without AVX-512. Exact on
    # integer values, like the 256-bit tiles.
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    af = rng.integers(-64, 64, (m, k)).astype(np.float32)
    bf = rng.integers(-64, 64, (k, n)).astype(np.float32)
    text = GEMM_F32.format(m=m, k=k, n=n)
    wide = jit.compile(text, "quantx-cpu-pipeline{target-features=+avx2,+fma,"
                             "+avx512f gemm-min-parallel-work=0}")["f"]
    np.testing.assert_array_equal(wide(af, bf), af @ bf)


def int4_constant_matmul(m, k, n, q, w_type):
    """@f: x [m, k] times the int4 constant q [k, n] of type w_type."""
    wq = ", ".join("[" + ", ".join(str(int(v)) for v in row) + "]" for row in q)
    return f"""
func.func @f(%x: tensor<{m}x{k}xf32>) -> tensor<{m}x{n}xf32> {{
  %w = quantx.constant dense<[{wq}]> : tensor<{k}x{n}xi4> -> tensor<{k}x{n}x{w_type}>
  %y = quantx.matmul %x, %w : tensor<{m}x{k}xf32>, tensor<{k}x{n}x{w_type}> -> tensor<{m}x{n}xf32>
  return %y : tensor<{m}x{n}xf32>
}}"""


def test_asymmetric_int4_weights_in_the_gemm():
    # Weight-only uint4 with one scale and zero point per output feature in
    # the type at 16 rows: the GEMM packs the dequantized weights at run
    # time (the weight-only kernels do not take zero points from the type).
    # Sub-byte weights must be read one per byte (a vector load of i4 would
    # read them packed: that bug once made the weight-int4 Fashion-MNIST
    # models guess at random).
    rng = np.random.default_rng(7)
    m, k, n = 16, 32, 24
    q = rng.integers(0, 16, (k, n))
    scales = rng.uniform(0.01, 0.1, n)
    zps = rng.integers(0, 16, n)
    ws = ", ".join(repr(float(v)) for v in scales)
    zs = ", ".join(str(int(v)) for v in zps)
    w_type = (f"!quantx.uniform<u4:f32, axis = 1, scales = dense<[{ws}]> : "
              f"tensor<{n}xf64>, offsets = dense<[{zs}]> : tensor<{n}xi64>>")
    # u4 values above 7 print as negative i4 constants.
    text = int4_constant_matmul(m, k, n, np.where(q > 7, q - 16, q), w_type)
    x = rng.standard_normal((m, k)).astype(np.float32)
    y = jit.compile(text)["f"](x)
    w = ((q - zps[None, :]) * scales[None, :]).astype(np.float32)
    np.testing.assert_allclose(y, x @ w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("m", [256, 257, 300])
def test_int8_weights_on_many_rows_take_the_gemm(m):
    # Weight-only int8 with f32 activations (the f32 kernel; on targets with
    # vpdpbusd the default would take the int8-activation kernel) on more
    # than 256 rows is left to the GEMM (quantx-pack-weight-only
    # f32-max-rows), which packs the dequantized weights once per call; at
    # 256 rows the kernel runs. Both are the product with the dequantized
    # weights, within the worst-case error of a K-term f32 sum (K eps sum
    # |x| |w|; the kernel scales each group's integer-weight sum, so its
    # rounding differs from numpy's).
    rng = np.random.default_rng(m)
    k, n = 48, 40
    q = rng.integers(-127, 128, (k, n))
    scales = rng.uniform(0.01, 0.1, n)
    ws = ", ".join(repr(float(v)) for v in scales)
    text = (int4_constant_matmul(m, k, n, q, f"!quantx.uniform<i8<-127:127>:f32, axis = 1, "
                                            f"scales = dense<[{ws}]> : tensor<{n}xf64>>")
            .replace(f"x{n}xi4>", f"x{n}xi8>"))
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = q * scales[None, :].astype(np.float32)
    exact = x.astype(np.float64) @ w
    bound = k * np.finfo(np.float32).eps * (np.abs(x).astype(np.float64) @ np.abs(w))
    f32 = "quantx-cpu-pipeline{weight-only-activations=f32}"
    assert np.all(np.abs(jit.compile(text, f32)["f"](x) - exact) <= bound)


@pytest.mark.parametrize("g", [8, 0])
def test_int4_weights_with_scales_in_the_type(g):
    # What PTQ's weight-only modes emit (a quantx.constant whose group
    # scales, or with g = 0 one scale per output feature, are in its type)
    # at 16 rows runs through the weight-only kernels in two blocks of 8
    # rows; with f32 activations the products are exact f32
    # (docs/design/WeightOnlyGEMV.md).
    rng = np.random.default_rng(7)
    m, k, n = 16, 32, 24
    q = rng.integers(-7, 8, (k, n))
    if g:
        scales = rng.uniform(0.01, 0.1, (k // g, n))
        ws = ", ".join("[" + ", ".join(repr(float(v)) for v in row) + "]" for row in scales)
        w_type = (f"!quantx.uniform<i4<-7:7>:f32, blocks = {{0 : {g}, 1 : 1}}, "
                  f"scales = dense<[{ws}]> : tensor<{k // g}x{n}xf64>>")
    else:
        g = k
        scales = rng.uniform(0.01, 0.1, (1, n))
        ws = ", ".join(repr(float(v)) for v in scales[0])
        w_type = (f"!quantx.uniform<i4<-7:7>:f32, axis = 1, "
                  f"scales = dense<[{ws}]> : tensor<{n}xf64>>")
    text = int4_constant_matmul(m, k, n, q, w_type)
    x = rng.standard_normal((m, k)).astype(np.float32)
    y = jit.compile(text, "builtin.module(quantx-cpu-pipeline{"
                          "weight-only-activations=f32})")["f"](x)
    w = (q * np.repeat(scales, g, axis=0)).astype(np.float32)
    np.testing.assert_allclose(y, x @ w, rtol=1e-5, atol=1e-5)


def test_weight_only_convolution_with_block_scales_at_run_time():
    # A float-input convolution whose int4 filter has one scale per filter
    # and pair of input channels, passed as an operand: not a static table,
    # so not the im2col form but the direct contraction, which reads the
    # scale of (f, c floordiv 2). The result is the convolution with the
    # dequantized filter within the worst-case error of its f32 sum.
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    f, c, k, b = 4, 6, 3, 2
    q = rng.integers(-7, 8, (f, c, k, k))
    s = rng.uniform(0.01, 0.1, (f, c // b, 1, 1)).astype(np.float32)
    x = rng.standard_normal((2, c, 7, 8)).astype(np.float32)
    w_type = f"!quantx.uniform<i4<-7:7>:f32, blocks = {{0 : 1, 1 : {b}}}>"
    codes = np.array2string(q, separator=", ", threshold=10**6).replace("\n", "")
    filt = f"tensor<{f}x{c}x{k}x{k}x{w_type}>"
    text = f"""
func.func @f(%x: tensor<2x{c}x7x8xf32>, %s: tensor<{f}x{c // b}x1x1xf32>) -> tensor<2x{f}x5x6xf32> {{
  %c = arith.constant dense<{codes}> : tensor<{f}x{c}x{k}x{k}xi4>
  %w = quantx.scast %c : tensor<{f}x{c}x{k}x{k}xi4> -> {filt}
  %y = quantx.conv2d %x, %w filter_scale(%s : tensor<{f}x{c // b}x1x1xf32>)
      : tensor<2x{c}x7x8xf32>, {filt} -> tensor<2x{f}x5x6xf32>
  return %y : tensor<2x{f}x5x6xf32>
}}"""
    y = jit.compile(text)["f"](x, s)
    deq = torch.from_numpy(q * np.repeat(s, b, axis=1).astype(np.float64))
    xt = torch.from_numpy(x).double()
    exact = torch.nn.functional.conv2d(xt, deq).numpy()
    bound = (c * k * k) * np.finfo(np.float32).eps * \
        torch.nn.functional.conv2d(xt.abs(), deq.abs()).numpy()
    assert np.all(np.abs(y - exact) <= bound)


@pytest.mark.parametrize("storage,zp", [("u8", 77), ("u8", 200), ("i8", 3), ("i8", -5)])
@pytest.mark.parametrize("m,k,n", [(13, 37, 21), (1, 784, 256), (64, 300, 48)])
def test_gemm_static_lhs_zero_point_exact(storage, zp, m, k, n):
    # A zero point fixed in the lhs type (static int8 activations): X = a - zp
    # spans more than a byte, so on a VNNI host the GEMM packs a (signed a
    # shifted by +128) for vpdpbusd and subtracts zp times the rhs column
    # sums, as for a run-time zero point; elsewhere it packs a - zp as int16.
    # Exact either way.
    rng = np.random.default_rng(m + k + n + zp)
    lo, hi, dtype = (0, 256, np.uint8) if storage == "u8" else (-128, 128, np.int8)
    a = rng.integers(lo, hi, (m, k)).astype(dtype)
    b = rng.integers(-127, 128, (k, n)).astype(np.int8)
    ai = "i8"  # signless storage; u8 values are passed as their bytes
    text = f"""
!x = !quantx.uniform<{storage}:f32, scale = 0.5, zero_point = {zp}>
!w = !quantx.uniform<i8<-127:127>:f32, scale = 0.25>
func.func @f(%a: tensor<{m}x{k}x{ai}>, %b: tensor<{k}x{n}xi8>) -> tensor<{m}x{n}xi32> {{
  %x = quantx.scast %a : tensor<{m}x{k}x{ai}> -> tensor<{m}x{k}x!x>
  %w = quantx.scast %b : tensor<{k}x{n}xi8> -> tensor<{k}x{n}x!w>
  %r = quantx.matmul %x, %w : tensor<{m}x{k}x!x>, tensor<{k}x{n}x!w> -> tensor<{m}x{n}xi32>
  return %r : tensor<{m}x{n}xi32>
}}"""
    fn = jit.compile(text)["f"]
    want = (a.astype(np.int64) - zp) @ b.astype(np.int64)
    for _ in range(2):
        np.testing.assert_array_equal(fn(a.view(np.int8), b), want)


EXP = """
func.func @exp(%x: tensor<Nxf32>) -> tensor<Nxf32> {
  %e = tensor.empty() : tensor<Nxf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                       iterator_types = ["parallel"]}
      ins(%x : tensor<Nxf32>) outs(%e : tensor<Nxf32>) {
  ^bb0(%a: f32, %b: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<Nxf32>
  return %y : tensor<Nxf32>
}
"""


def exp_ulp_error(y, x):
    """|y - exp(x)| in units in the last place of f32 at exp(x): 2^(e - 24)
    for exp(x) in [2^(e-1), 2^e) (normal results)."""
    exact = np.exp(x.astype(np.float64))
    _, e = np.frexp(exact)
    return np.abs(y.astype(np.float64) - exact) / np.ldexp(1.0, e - 24)


def test_exp_approximation_is_within_one_ulp():
    # 2^20 points over the range of normal f32 results (vector loops); the
    # largest error there is 1.0006 ulp (at x = 26.73). Then special values
    # through a 7-element op (4 lanes, then scalars).
    x = np.linspace(-87.0, 88.0, 1 << 20, dtype=np.float32)
    y = jit.compile(EXP.replace("N", str(x.size)))["exp"](x)
    err = exp_ulp_error(y, x)
    assert err.max() <= 1.01, (err.max(), x[err.argmax()])
    assert err.mean() < 0.3
    # glibc's expf (approximate-math=false) is within 0.502 ulp (0.5015
    # here): the approximation is not it.
    libm = jit.compile(EXP.replace("N", str(x.size)),
                       "quantx-cpu-pipeline{approximate-math=false runtime-alloc=true}")["exp"](x)
    assert exp_ulp_error(libm, x).max() <= 0.502
    assert np.count_nonzero(libm != y) > 1000
    small = jit.compile(EXP.replace("N", "7"))["exp"]
    special = np.array([0.0, -0.0, 1.0, -1000.0, 89.0, np.inf, -np.inf], np.float32)
    got = small(special)
    assert got.tolist() == [1.0, 1.0, got[2], 0.0, np.inf, np.inf, 0.0]
    assert exp_ulp_error(got[2:3], special[2:3])[0] <= 1.01
    assert np.isnan(small(np.full(7, np.nan, np.float32))).all()
