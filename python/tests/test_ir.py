"""The compiler's C API through quantx.ir: parse, verify, print, passes."""

import os

import pytest

import quantx

if not os.path.exists(os.path.join(os.path.dirname(quantx.__file__),
                                   "libQuantXCAPI.so")):
    pytest.skip("built without MLIR (QUANTX_ENABLE_MLIR=OFF): no C API",
                allow_module_level=True)

import quantx.ir as ir  # noqa: E402

SRC = os.environ.get("QUANTX_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", ".."))

UPSTREAM = """
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %q = quant.qcast %x : tensor<4xf32> to tensor<4x!quant.uniform<u8:f32, 0.5:128>>
  %d = quant.dcast %q : tensor<4x!quant.uniform<u8:f32, 0.5:128>> to tensor<4xf32>
  return %d : tensor<4xf32>
}
"""


def test_api_version():
    assert ir.API_VERSION == 1


def test_parse_print_round_trip():
    ctx = ir.Context()
    m = ir.Module.parse(ctx, UPSTREAM)
    text = str(m)
    assert "quant.qcast" in text
    again = ir.Module.parse(ctx, text)
    assert str(again) == text
    assert '"quant.qcast"' in m.to_string(generic=True)


def test_bytecode_round_trip():
    ctx = ir.Context()
    m = ir.Module.parse_file(ctx, os.path.join(SRC, "test/Dialect/QuantX/ops.mlir"))
    data = m.to_bytecode()
    assert data[:4] == b"ML\xefR"
    # A fresh context: resource names are unique per context, so re-reading
    # the blobs into the same one would rename them.
    assert str(ir.Module.parse(ir.Context(), data)) == str(m)


def test_pipeline_converts_to_quantx_and_back():
    ctx = ir.Context()
    m = ir.Module.parse(ctx, UPSTREAM)
    original = str(m)
    m.run_pipeline("convert-quant-to-quantx")
    text = str(m)
    assert "quantx.quantize" in text and "!quant.uniform" not in text
    # The anchored spelling works too.
    m.run_pipeline("builtin.module(convert-quantx-to-quant)")
    assert str(m) == original


def test_parse_error_carries_diagnostics():
    ctx = ir.Context()
    with pytest.raises(ir.QuantXError, match="storage width must be in"):
        ir.Module.parse(ctx, "func.func private @f(!quantx.uniform<i1:f32>)")


def test_verifier_error():
    ctx = ir.Context()
    bad = """
func.func @f(%x: tensor<4xf32>) {
  %q = quantx.quantize %x : tensor<4xf32> -> tensor<4x!quantx.uniform<i8:f32>>
  return
}"""
    with pytest.raises(ir.QuantXError, match="is missing the result scale operand"):
        ir.Module.parse(ctx, bad)


def test_bad_pipeline_and_failing_pass():
    ctx = ir.Context()
    m = ir.Module.parse(ctx, UPSTREAM)
    with pytest.raises(ir.QuantXError, match="invalid pass pipeline"):
        m.run_pipeline("no-such-pass")
    dyn = ir.Module.parse(ctx, "func.func private @f(!quantx.uniform<i8:f32>)")
    with pytest.raises(ir.QuantXError, match="dynamic parameters"):
        dyn.run_pipeline("convert-quantx-to-quant")


def test_missing_file():
    ctx = ir.Context()
    with pytest.raises(ir.QuantXError, match="cannot read"):
        ir.Module.parse_file(ctx, "/nonexistent/x.mlir")
