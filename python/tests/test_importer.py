"""torch.fx importer: every supported operation and the example models,
imported, JIT-compiled and compared with PyTorch (fp32).

Relative error is max|quantx - torch| / max|torch| and must be <= 1e-5."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import quantx.jit
from quantx import importer
from quantx.importer import UnsupportedOperationError

RTOL = 1e-5


def run(model, *inputs):
    model.eval()
    text = importer.import_module(model, inputs)
    cm = quantx.jit.compile(text)
    out = cm["forward"](*[t.numpy() for t in inputs])
    return out, text


def rel_error(a, b):
    b = np.asarray(b, dtype=np.float64)
    denom = max(np.abs(b).max(), np.finfo(np.float32).tiny)
    return float(np.abs(np.asarray(a, np.float64) - b).max() / denom)


def check(model, *inputs, rtol=RTOL):
    with torch.no_grad():
        ref = model.eval()(*inputs)
    out, text = run(model, *inputs)
    assert out.shape == tuple(ref.shape)
    assert out.dtype == np.float32
    assert rel_error(out, ref.numpy()) <= rtol
    return text


class _Fn1(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class _Fn2(_Fn1):
    def forward(self, x, y):
        return self.fn(x, y)


class _Fn3(_Fn1):
    def forward(self, x, y, z):
        return self.fn(x, y, z)


def Fn(fn, n=None):
    """A module calling ``fn`` (torch 1.13's tracer cannot trace *args)."""
    n = n or (fn.__code__.co_argcount if hasattr(fn, "__code__") else 1)
    return {1: _Fn1, 2: _Fn2, 3: _Fn3}[n](fn)


def rand(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("bias", [True, False])
def test_linear(bias):
    text = check(nn.Linear(20, 7, bias=bias), rand(3, 5, 20))
    assert "linalg.matmul" in text and "dense_resource" in text


@pytest.mark.parametrize("kw", [
    dict(),
    dict(stride=2, padding=1),
    dict(padding=2, dilation=2),
    dict(groups=2, padding=1),
    dict(groups=4, stride=(2, 1), bias=False),
])
def test_conv2d(kw):
    check(nn.Conv2d(4, 8, 3, **kw), rand(2, 4, 9, 11))


def test_conv_batchnorm_folded():
    m = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6))
    with torch.no_grad():
        m[1].running_mean.copy_(torch.randn(6))
        m[1].running_var.copy_(torch.rand(6) + 0.5)
        m[1].weight.copy_(torch.randn(6))
        m[1].bias.copy_(torch.randn(6))
    text = check(m, rand(2, 3, 8, 8))
    assert text.count("linalg.conv_2d_nchw_fchw") == 1
    assert "scale" not in text  # folded, no separate affine


def test_batchnorm_standalone():
    bn = nn.BatchNorm2d(5)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(5))
        bn.running_var.copy_(torch.rand(5) + 0.5)
    check(bn, rand(2, 5, 4, 4))


@pytest.mark.parametrize("mod", [nn.ReLU(), nn.SiLU(), nn.GELU(), nn.GELU(approximate="tanh"),
                                 nn.Tanh()])
def test_activation_modules(mod):
    check(mod, rand(4, 33) * 4)


@pytest.mark.parametrize("fn", [F.relu, F.silu, F.gelu, torch.exp, torch.tanh, torch.sigmoid,
                                lambda x: F.gelu(x, approximate="tanh")])
def test_activation_functions(fn):
    check(Fn(fn, 1), rand(3, 17) * 3)


@pytest.mark.parametrize("mod", [nn.ReLU6(), nn.Hardtanh(-2.0, 1.5), nn.LeakyReLU(),
                                 nn.LeakyReLU(0.2), nn.Hardsigmoid(), nn.Hardswish(),
                                 nn.Sigmoid()])
def test_clamping_activation_modules(mod):
    # Scaled so that every piece of each function is hit.
    check(mod, rand(4, 33) * 5)


@pytest.mark.parametrize("fn", [
    F.relu6, F.hardtanh, lambda x: F.hardtanh(x, -0.5, 2.0), F.hardsigmoid, F.hardswish,
    lambda x: F.leaky_relu(x, 0.1), lambda x: torch.clamp(x, -1.0, 2.0),
    lambda x: torch.clamp(x, min=0.5), lambda x: x.clamp(max=1.0), lambda x: x.clamp(-3, 3),
    lambda x: torch.clip(x, -1.0, 1.0), lambda x: x.clamp_min(0.25),
    lambda x: torch.clamp_max(x, 0.75), lambda x: x.sigmoid()])
def test_clamping_activation_functions(fn):
    check(Fn(fn, 1), rand(3, 17) * 5)


def test_clamp_keeps_nan():
    x = torch.tensor([[float("nan"), -7.0, 0.5, 9.0]])
    out, _ = run(Fn(lambda x: torch.clamp(x, -1.0, 1.0), 1), x)
    assert np.isnan(out[0, 0]) and out[0, 1:].tolist() == [-1.0, 0.5, 1.0]


def test_sqrt_rsqrt_pow():
    check(Fn(lambda x: torch.sqrt(x) + torch.rsqrt(x) + x.pow(2) + torch.pow(x, 1.5)),
          rand(5, 6).abs() + 0.1)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2, stride=1, dilation=2)])
def test_maxpool(kw):
    check(nn.MaxPool2d(**kw), rand(2, 3, 9, 9))


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)])
def test_avgpool(kw):
    check(nn.AvgPool2d(**kw), rand(2, 3, 9, 9))


@pytest.mark.parametrize("fn", [
    lambda x: F.max_pool2d(x, 3, 2, 1), lambda x: F.max_pool2d(x, kernel_size=2),
    lambda x: F.avg_pool2d(x, 3, stride=2, padding=1), lambda x: F.avg_pool2d(x, 2)])
def test_functional_pooling(fn):
    check(Fn(fn, 1), rand(2, 3, 9, 9))


@pytest.mark.parametrize("mod", [nn.AdaptiveAvgPool2d(1), nn.AdaptiveAvgPool2d((2, 4)),
                                 nn.AdaptiveAvgPool2d((None, 2)), nn.AdaptiveMaxPool2d(1),
                                 nn.AdaptiveMaxPool2d((4, 2)),
                                 Fn(lambda x: F.adaptive_avg_pool2d(x, (1, 1)), 1),
                                 Fn(lambda x: F.adaptive_max_pool2d(x, 2), 1)])
def test_adaptive_pooling(mod):
    check(mod, rand(2, 3, 8, 12))


def test_adaptive_pooling_to_a_size_that_does_not_divide_is_an_error():
    with pytest.raises(UnsupportedOperationError,
                       match=r"adaptive pooling of 7x7 to 3x3 \(only output sizes"):
        importer.import_module(nn.AdaptiveAvgPool2d(3).eval(), (rand(1, 2, 7, 7),))


@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=3, padding=1, stride=2),
                                dict(kernel_size=2, dilation=2, bias=False),
                                dict(kernel_size=3, padding=1, groups=3)])
def test_conv1d(kw):
    check(nn.Conv1d(3, 6, **kw), rand(2, 3, 11))


@pytest.mark.parametrize("mod", [
    nn.Conv2d(3, 4, 3, padding="same"), nn.Conv2d(3, 4, (2, 4), padding="same"),
    nn.Conv2d(3, 4, 3, padding="same", dilation=2), nn.Conv2d(3, 4, 3, padding="valid"),
    nn.Conv1d(3, 4, 4, padding="same"), nn.Conv1d(3, 4, 3, padding="valid")])
def test_string_padding(mod):
    # "same" with an even kernel pads one more at the end, as PyTorch does.
    x = rand(2, 3, 7, 9) if isinstance(mod, nn.Conv2d) else rand(2, 3, 9)
    check(mod, x)


def test_conv1d_batchnorm_folded():
    m = nn.Sequential(nn.Conv1d(3, 4, 3, padding=1), nn.BatchNorm1d(4), nn.ReLU())
    with torch.no_grad():
        m[1].running_mean.copy_(torch.randn(4))
        m[1].running_var.copy_(torch.rand(4) + 0.5)
    text = check(m, rand(2, 3, 9))
    assert text.count("linalg.conv_2d_nchw_fchw") == 1 and "arith.mulf" not in text


@pytest.mark.parametrize("mod", [nn.MaxPool1d(2), nn.MaxPool1d(3, stride=2, padding=1),
                                 nn.AvgPool1d(3, stride=2, padding=1), nn.AvgPool1d(2),
                                 nn.AdaptiveAvgPool1d(1), nn.AdaptiveMaxPool1d(4)])
def test_pool1d(mod):
    check(mod, rand(2, 3, 12))


def test_batchnorm1d():
    bn = nn.BatchNorm1d(6)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(6))
        bn.running_var.copy_(torch.rand(6) + 0.5)
        bn.weight.copy_(torch.randn(6))
    check(nn.Sequential(nn.Linear(5, 6), bn, nn.ReLU()), rand(4, 5))
    check(bn, rand(4, 6, 3))


def test_shapes():
    def fn(x):
        y = x.reshape(2, 3, 20).permute(2, 0, 1).contiguous()
        y = y.transpose(0, 2).view(3, 2, 4, 5)
        return torch.flatten(y, 1) + y.flatten(1)
    check(Fn(fn), rand(6, 4, 5))
    check(nn.Flatten(), rand(2, 3, 4))


def test_binary_broadcasting_and_scalars():
    def fn(a, b, c):
        return ((a + b) * c - b / (c.abs() + 1)) * 0.5 + 3 - (2 - a) / 4 + (-a)
    check(Fn(fn), rand(2, 3, 4), rand(3, 1, seed=1), rand(4, seed=2))


@pytest.mark.parametrize("shapes", [((5, 7), (7, 3)), ((2, 5, 7), (2, 7, 3)),
                                    ((2, 3, 5, 7), (2, 3, 7, 4)), ((2, 3, 5, 7), (7, 4)),
                                    ((7,), (7, 3)), ((2, 5, 7), (7,))])
def test_matmul(shapes):
    a, b = shapes
    check(Fn(torch.matmul, 2), rand(*a), rand(*b, seed=1))


def test_bmm():
    check(Fn(torch.bmm, 2), rand(3, 4, 5), rand(3, 5, 2, seed=1))


@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_softmax(dim):
    check(Fn(lambda x: torch.softmax(x, dim=dim)), rand(4, 6, 5) * 10)
    check(nn.Softmax(dim=dim), rand(4, 6, 5) * 10)


def test_softmax_masked_rows():
    mask = torch.full((6, 6), float("-inf")).triu(1)
    check(Fn(lambda x: F.softmax(x + mask, dim=-1)), rand(2, 6, 6))


def test_mean():
    check(Fn(lambda x: x.mean(-1, keepdim=True) + x.mean(dim=(0, 2)).sum() * 0 + x), rand(3, 4, 5))


def test_layernorm():
    ln = nn.LayerNorm(16)
    with torch.no_grad():
        ln.weight.copy_(torch.randn(16))
        ln.bias.copy_(torch.randn(16))
    check(ln, rand(3, 5, 16) * 3 + 1)
    check(nn.LayerNorm((4, 16), elementwise_affine=False), rand(3, 4, 16))


def test_rmsnorm():
    from quantx.models.charlm import RMSNorm
    m = RMSNorm(32, 1e-5)
    with torch.no_grad():
        m.weight.copy_(torch.randn(32))
    check(m, rand(2, 7, 32))


def test_embedding():
    emb = nn.Embedding(11, 6)
    ids = torch.tensor([[0, 3, 10], [7, 7, 1]])
    check(emb, ids)


def test_slicing_and_cat():
    def fn(x):
        a = x[..., :3]
        b = x[:, 1:, 3:]
        c = x[0]
        d = x[:, ::2, -2:]
        return torch.cat((a[:, :2], b[:, :2, :3]), dim=-1).sum() * 0 + torch.cat(
            [a, -a], dim=1), c, d
    m = Fn(fn)
    x = rand(2, 5, 6)
    out, _ = run(m, x)
    ref = m(x)
    for o, r in zip(out, ref):
        assert rel_error(o, r.numpy()) <= RTOL


def test_causal_attention_with_rope():
    from quantx.models.charlm import Attention, LlamaConfig, rope_tables
    cfg = LlamaConfig(vocab_size=8, dim=32, n_heads=4, max_seq_len=16)
    cos, sin = rope_tables(cfg)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.att = Attention(cfg)
            self.register_buffer("cos", cos[:9])
            self.register_buffer("sin", sin[:9])
            self.register_buffer("mask", torch.full((9, 9), float("-inf")).triu(1))

        def forward(self, x):
            return self.att(x, self.cos, self.sin, self.mask)
    check(Block(), rand(2, 9, 32))


def test_shape_arithmetic_is_folded():
    def fn(x):
        b, t = x.shape[0], x.shape[1]
        return x.reshape(b * t // 2, -1)
    check(Fn(fn), rand(4, 6))


# -- errors -------------------------------------------------------------------

def test_unsupported_function_names_it_and_its_location():
    with pytest.raises(UnsupportedOperationError) as e:
        importer.import_module(Fn(lambda x: torch.cumsum(x, 0)).eval(), (rand(3),))
    msg = str(e.value)
    assert "cumsum" in msg and "test_importer.py:" in msg


def test_unsupported_module_names_it():
    m = nn.Sequential(nn.Linear(4, 4), nn.LogSigmoid())
    with pytest.raises(UnsupportedOperationError, match=r"LogSigmoid \('inner.1'\)"):
        importer.import_module(m.eval(), (rand(2, 4),))


def test_bad_inputs():
    with pytest.raises(TypeError):
        importer.import_module(nn.ReLU(), ([1.0, 2.0],))
    with pytest.raises(TypeError):
        importer.import_module("not a module", (rand(2),))
    with pytest.raises(ValueError, match="eval mode"):
        importer.import_module(nn.Linear(2, 2).train(), (rand(2),))
    with pytest.raises(RuntimeError):
        importer.import_module(nn.Linear(3, 2).eval(), (rand(5, 4),))  # wrong shape


def test_cli(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.abspath(__file__)), env.get("PYTHONPATH", "")])
    out = tmp_path / "mlp.mlir"
    r = subprocess.run([sys.executable, "-m", "quantx.importer", "fashion_mlp",
                        "--input-shape", "2,1,28,28", "-o", str(out)], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "func.func @forward(%x: tensor<2x1x28x28xf32>) -> tensor<2x10xf32>" in out.read_text()
    bad = tmp_path / "bad.mlir"
    r = subprocess.run([sys.executable, "-m", "quantx.importer", "tests_cumsum:make",
                        "--input-shape", "3", "-o", str(bad)], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 1 and "error:" in r.stderr
    assert not bad.exists()
    r = subprocess.run([sys.executable, "-m", "quantx.importer", "fashion_mlp",
                        "--input-shape", "2,x"], env=env, capture_output=True, text=True)
    assert r.returncode == 2


# -- the example models on held-out data -------------------------------------

def test_fashion_models_match_torch_on_test_images():
    from quantx import models
    from quantx.models import data
    x, _ = data.load_fashion_mnist("test")
    batch = torch.from_numpy(x[:64])
    for name in ("fashion_cnn", "fashion_mlp"):
        model = models.load(name)
        text = check(model, batch)
        assert text.count("dense_resource<") >= 3


def test_charlm_matches_torch_on_persuasion():
    from quantx import models
    from quantx.models import data
    model, tok = models.load("charlm")
    text = data.load_austen("test")
    ids = torch.tensor([tok.encode(text[20000:20128]), tok.encode(text[40000:40128])])
    check(model, ids)
