"""torch.fx -> MLIR (func + linalg/tensor/arith/math on static shapes).

The module is traced with a tracer that proxies buffers and records stack
traces, then evaluated once on the example inputs with an fx Interpreter so
every node has a concrete value: tensors give static shapes and dtypes,
Python values (``x.shape[1]``, ``t // 2``) are folded to constants. Each
tensor node is then emitted by the handler for its module type, function or
method; anything else raises :class:`UnsupportedOperationError` naming the
operation and where it comes from.
"""

import math
import operator
import re

import numpy as np
import torch
import torch.fx
from torch import nn
from torch.nn import functional as F

from .emitter import Emitter, Value, affine_map, float_literal, is_float, mlir_elem


class UnsupportedOperationError(NotImplementedError):
    """An operation (module, function or method) the importer cannot lower.
    The message names it and its source location."""


class _Tracer(torch.fx.Tracer):
    proxy_buffer_attributes = True

    def __init__(self):
        super().__init__()
        self.record_stack_traces = True


def _np_dtype(t):
    return np.dtype(str(t.dtype).replace("torch.", ""))


def _location(node):
    trace = node.meta.get("stack_trace") or getattr(node, "stack_trace", None)
    if trace:
        frames = re.findall(r'File "([^"]+)", line (\d+)', trace)
        frames = [(p, n) for p, n in frames
                  if not p.startswith("<") and "/torch/" not in p] or frames
        if frames:  # innermost (the user's call site) first
            path, line = frames[0]
            return f"{path}:{line}"
    return None


def _describe(node, gm):
    if node.op == "call_module":
        mod = gm.get_submodule(node.target)
        what = f"module {type(mod).__module__}.{type(mod).__name__} ('{node.target}')"
    elif node.op == "call_method":
        what = f"method Tensor.{node.target}"
    else:
        t = node.target
        what = f"function {getattr(t, '__module__', None) or 'builtins'}.{getattr(t, '__name__', t)}"
    loc = _location(node)
    return what + (f" at {loc}" if loc else "") + f" (fx node '{node.name}')"


class _Importer:
    def __init__(self, gm, example_inputs, func_name):
        self.gm = gm
        self.func_name = func_name
        self.e = Emitter()
        self.values = {}  # fx node -> concrete value (tensor or Python value)
        self.ssa = {}  # fx node -> Value
        self.wrapper_prefix = ""  # of submodule targets when import_module wraps a bare layer
        self._record(example_inputs)

    # -- evaluation --------------------------------------------------------
    def _record(self, example_inputs):
        values = self.values

        class Recorder(torch.fx.Interpreter):
            def run_node(self, n):
                result = super().run_node(n)
                values[n] = result
                return result

        with torch.no_grad():
            Recorder(self.gm).run(*example_inputs)

    # -- helpers -----------------------------------------------------------
    def val(self, arg):
        """The SSA Value of a tensor argument or the folded Python value."""
        if isinstance(arg, torch.fx.Node):
            if arg in self.ssa:
                return self.ssa[arg]
            value = self.values[arg]
            if isinstance(value, torch.Tensor):
                raise UnsupportedOperationError(f"tensor from {_describe(arg, self.gm)} "
                                                "was not lowered")
            return value
        if isinstance(arg, (list, tuple)):
            return type(arg)(self.val(a) for a in arg)
        if isinstance(arg, slice):
            return slice(self.val(arg.start), self.val(arg.stop), self.val(arg.step))
        return arg

    def const(self, tensor, hint):
        return self.e.constant(tensor.detach().cpu().numpy(), hint)

    @staticmethod
    def norm_dim(d, rank):
        d = int(d)
        if d < -rank or d >= max(rank, 1):
            raise ValueError(f"dimension {d} out of range for rank {rank}")
        return d % rank if rank else 0

    # -- element-wise --------------------------------------------------------
    def binary(self, node, a, b, op):
        out = self.values[node]
        dtype = _np_dtype(out)
        elem = mlir_elem(dtype)
        ops = {"add": ("arith.addf", "arith.addi"), "sub": ("arith.subf", "arith.subi"),
               "mul": ("arith.mulf", "arith.muli"), "div": ("arith.divf", None),
               "max": ("arith.maximumf", "arith.maxsi")}
        fop, iop = ops[op]
        opname = fop if elem.startswith("f") else iop
        if opname is None:
            raise UnsupportedOperationError(f"integer {op} in {_describe(node, self.gm)}")

        def body(n):
            r = self.e.fresh("b")
            return [f"{r} = {opname} {n[0]}, {n[1]} : {elem}"], r

        for x in (a, b):
            if isinstance(x, Value) and x.dtype != dtype:
                raise UnsupportedOperationError(
                    f"mixed dtypes ({x.dtype} vs {dtype}) in {_describe(node, self.gm)}")
        # Named after the FX node ("add", "add_1"): quantx-ptq names residual
        # additions after their op's location.
        return self.e.elementwise([a, b], tuple(out.shape), dtype, body, loc=node.name)

    def unary(self, x, fn):
        """``fn(name, elem) -> (lines, result)``."""
        return self.e.elementwise([x], x.shape, x.dtype, lambda n: fn(n[0], x.elem))

    def _math(self, op):
        def fn(a, elem):
            r = self.e.fresh("m")
            return [f"{r} = {op} {a} : {elem}"], r
        return fn

    def relu(self, x):
        def fn(a, elem):
            z, r = self.e.fresh("z"), self.e.fresh("m")
            return [f"{z} = arith.constant 0.0 : {elem}",
                    f"{r} = arith.maximumf {a}, {z} : {elem}"], r
        return self.unary(x, fn)

    def clamp(self, x, lo=None, hi=None):
        """min(max(x, lo), hi) with scalar bounds (either may be None); NaN
        stays NaN, as in PyTorch."""
        if lo is None and hi is None:
            raise UnsupportedOperationError("clamp without bounds")
        operands = [x] + [float(v) for v in (lo, hi) if v is not None]

        def body(n):
            r, lines, i = n[0], [], 1
            for bound, op in ((lo, "arith.maximumf"), (hi, "arith.minimumf")):
                if bound is None:
                    continue
                t = self.e.fresh("m")
                lines.append(f"{t} = {op} {r}, {n[i]} : {x.elem}")
                r, i = t, i + 1
            return lines, r
        return self.e.elementwise(operands, x.shape, x.dtype, body)

    def leaky_relu(self, x, slope):
        def body(n):
            z, pos, m, r = (self.e.fresh(h) for h in ("z", "p", "m", "r"))
            return [f"{z} = arith.constant 0.0 : {x.elem}",
                    f"{pos} = arith.cmpf ogt, {n[0]}, {z} : {x.elem}",
                    f"{m} = arith.mulf {n[0]}, {n[1]} : {x.elem}",
                    f"{r} = arith.select {pos}, {n[0]}, {m} : {x.elem}"], r
        return self.e.elementwise([x, float(slope)], x.shape, x.dtype, body)

    def hard_sigmoid(self, x, times_x):
        """PyTorch's relu6(x + 3) / 6, times x for hardswish."""
        def body(n):
            c3, c0, c6, t, lo, hi, r = (self.e.fresh(h) for h in "abcdefg")
            lines = [f"{c3} = arith.constant 3.0 : {x.elem}",
                     f"{c0} = arith.constant 0.0 : {x.elem}",
                     f"{c6} = arith.constant 6.0 : {x.elem}",
                     f"{t} = arith.addf {n[0]}, {c3} : {x.elem}",
                     f"{lo} = arith.maximumf {t}, {c0} : {x.elem}",
                     f"{hi} = arith.minimumf {lo}, {c6} : {x.elem}"]
            if times_x:
                p = self.e.fresh("p")
                lines += [f"{p} = arith.mulf {n[0]}, {hi} : {x.elem}",
                          f"{r} = arith.divf {p}, {c6} : {x.elem}"]
            else:
                lines.append(f"{r} = arith.divf {hi}, {c6} : {x.elem}")
            return lines, r
        return self.e.elementwise([x], x.shape, x.dtype, body)

    def _over_one_plus_exp_neg(self, numerator):
        """x -> numerator(x) / (1 + exp(-x)): sigmoid (1) and SiLU (x)."""
        def fn(a, elem):
            one, neg, ex, den, r = (self.e.fresh(h) for h in "onedr")
            num = one if numerator == "one" else a
            return [f"{one} = arith.constant 1.0 : {elem}",
                    f"{neg} = arith.negf {a} : {elem}",
                    f"{ex} = math.exp {neg} : {elem}",
                    f"{den} = arith.addf {one}, {ex} : {elem}",
                    f"{r} = arith.divf {num}, {den} : {elem}"], r
        return fn

    def sigmoid(self, x):
        return self.unary(x, self._over_one_plus_exp_neg("one"))

    def silu(self, x):
        return self.unary(x, self._over_one_plus_exp_neg("x"))

    def gelu(self, x, approximate):
        if approximate not in ("none", "tanh"):
            raise UnsupportedOperationError(f"GELU approximate={approximate!r}")

        def fn(a, elem):
            n = [self.e.fresh("g") for _ in range(12)]
            half = [f"{n[0]} = arith.constant 0.5 : {elem}",
                    f"{n[1]} = arith.constant 1.0 : {elem}"]
            if approximate == "tanh":
                k = float_literal(math.sqrt(2 / math.pi), elem)
                inner = [f"{n[2]} = arith.constant {k} : {elem}",
                         f"{n[3]} = arith.constant 0.044715 : {elem}",
                         f"{n[4]} = arith.mulf {a}, {a} : {elem}",
                         f"{n[5]} = arith.mulf {n[4]}, {a} : {elem}",
                         f"{n[6]} = math.fma {n[3]}, {n[5]}, {a} : {elem}",
                         f"{n[7]} = arith.mulf {n[2]}, {n[6]} : {elem}",
                         f"{n[8]} = math.tanh {n[7]} : {elem}"]
            else:
                k = float_literal(1 / math.sqrt(2), elem)
                inner = [f"{n[2]} = arith.constant {k} : {elem}",
                         f"{n[7]} = arith.mulf {a}, {n[2]} : {elem}",
                         f"{n[8]} = math.erf {n[7]} : {elem}"]
            tail = [f"{n[9]} = arith.addf {n[1]}, {n[8]} : {elem}",
                    f"{n[10]} = arith.mulf {n[0]}, {a} : {elem}",
                    f"{n[11]} = arith.mulf {n[10]}, {n[9]} : {elem}"]
            return half + inner + tail, n[11]
        return self.unary(x, fn)

    def scale_shift(self, x, scale, shift, axis):
        """x * scale + shift with per-``axis`` 1-D scale/shift Values."""
        shape = [1] * x.rank
        shape[axis] = x.shape[axis]
        s = self.e.reshape(scale, tuple(shape))
        b = self.e.reshape(shift, tuple(shape))

        def body(n):
            m, r = self.e.fresh("m"), self.e.fresh("r")
            return [f"{m} = arith.mulf {n[0]}, {n[1]} : {x.elem}",
                    f"{r} = arith.addf {m}, {n[2]} : {x.elem}"], r
        return self.e.elementwise([x, s, b], x.shape, x.dtype, body)

    # -- contractions ------------------------------------------------------
    def matmul2d(self, a, b):
        m, k = a.shape
        k2, n = b.shape
        assert k == k2
        return self.e.named("linalg.matmul", [a, b], (m, n), a.dtype)

    def matmul(self, node, a, b):
        out = self.values[node]
        if a.rank == 1 or b.rank == 1:
            a2 = self.e.reshape(a, (1,) + a.shape) if a.rank == 1 else a
            b2 = self.e.reshape(b, b.shape + (1,)) if b.rank == 1 else b
            r = self._matmul_nd(a2, b2)
            return self.e.reshape(r, tuple(out.shape))
        return self._matmul_nd(a, b)

    def _matmul_nd(self, a, b):
        if a.rank == 2 and b.rank == 2:
            return self.matmul2d(a, b)
        batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
        a = self._broadcast_to(a, batch + a.shape[-2:])
        b = self._broadcast_to(b, batch + b.shape[-2:])
        nb = int(np.prod(batch, dtype=np.int64))
        a3 = self.e.reshape(a, (nb,) + a.shape[-2:])
        b3 = self.e.reshape(b, (nb,) + b.shape[-2:])
        r = self.e.named("linalg.batch_matmul", [a3, b3],
                         (nb, a.shape[-2], b.shape[-1]), a.dtype)
        return self.e.reshape(r, batch + (a.shape[-2], b.shape[-1]))

    def _broadcast_to(self, x, shape):
        if x.shape == tuple(shape):
            return x
        return self.e.elementwise([x], shape, x.dtype, lambda n: ([], n[0]))

    def linear(self, x, weight, bias, hint):
        """y = x W^T + b; W is stored transposed ([in, out]) so the
        contraction is a plain linalg.matmul."""
        k = x.shape[-1]
        lead = x.shape[:-1]
        m = int(np.prod(lead, dtype=np.int64))
        wt = self.e.constant(weight.detach().cpu().numpy().T.copy(), hint + "_weight_t")
        x2 = self.e.reshape(x, (m, k))
        y = self.matmul2d(x2, wt)
        if bias is not None:
            b = self.e.constant(bias.detach().cpu().numpy(), hint + "_bias")
            y = self._add(y, b)
        return self.e.reshape(y, lead + (wt.shape[1],))

    def _add(self, a, b):
        def body(n):
            r = self.e.fresh("b")
            return [f"{r} = arith.addf {n[0]}, {n[1]} : {a.elem}"], r
        return self.e.elementwise([a, b], a.shape, a.dtype, body)

    @staticmethod
    def _string_padding(padding, kernel, stride, dilation):
        """PyTorch's padding="valid" / "same" as per-dimension (low, high)
        pairs: "same" pads dilation * (kernel - 1) in all, the odd one at the
        end, as ATen does (stride 1 only, as PyTorch requires)."""
        if padding == "valid":
            return [(0, 0)] * len(kernel)
        if padding != "same":
            raise UnsupportedOperationError(f"convolution padding={padding!r}")
        if any(s != 1 for s in stride):
            raise UnsupportedOperationError('padding="same" with a stride other than 1')
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return [(t // 2, t - t // 2) for t in total]

    def conv2d(self, x, weight, bias, stride, padding, dilation, groups, hint):
        sh, sw = stride
        dh, dw = dilation
        n, c, h, w = x.shape
        f, cg, kh, kw = weight.shape
        if isinstance(padding, str):
            (pt, pb), (pl, pr) = self._string_padding(padding, (kh, kw), stride, dilation)
        else:
            (pt, pl), (pb, pr) = padding, padding
        oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
        ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
        xp = self.e.pad(x, [0, 0, pt, pl], [0, 0, pb, pr], 0.0)
        attrs = (f"{{dilations = dense<[{dh}, {dw}]> : tensor<2xi64>, "
                 f"strides = dense<[{sh}, {sw}]> : tensor<2xi64>}}")
        wnp = weight.detach().cpu().numpy()
        if groups == 1:
            wv = self.e.constant(wnp, hint + "_weight")
            y = self.e.named("linalg.conv_2d_nchw_fchw", [xp, wv], (n, f, oh, ow), x.dtype, attrs)
        else:
            g = groups
            wv = self.e.constant(wnp.reshape(g, f // g, cg, kh, kw), hint + "_weight")
            # Channels split into groups and merged back by reshapes of
            # dimension 1 alone, the form quantx-ptq reads as one grouped conv.
            xg = self.e.expand(xp, [[0], [1, 2], [3], [4]], (n, g, c // g) + xp.shape[2:])
            y = self.e.named("linalg.conv_2d_ngchw_gfchw", [xg, wv], (n, g, f // g, oh, ow),
                             x.dtype, attrs)
            y = self.e.collapse(y, [[0], [1, 2], [3], [4]], (n, f, oh, ow))
        if bias is not None:
            b = self.e.constant(bias.detach().cpu().numpy().reshape(f, 1, 1), hint + "_bias")
            y = self._add(y, b)
        return y

    # 1-D convolution and pooling: the 2-D ops on [N, C, 1, L].
    def _as_2d(self, x):
        if x.rank != 3:
            raise UnsupportedOperationError(f"1-D convolution or pooling of a rank-{x.rank} "
                                            "tensor (expected [N, C, L])")
        n, c, length = x.shape
        return self.e.expand(x, [[0], [1], [2, 3]], (n, c, 1, length))

    def _from_2d(self, y):
        n, c, _, length = y.shape
        return self.e.collapse(y, [[0], [1], [2, 3]], (n, c, length))

    def conv1d(self, x, weight, bias, stride, padding, dilation, groups, hint):
        w = weight.detach().reshape(weight.shape[0], weight.shape[1], 1, weight.shape[2])
        padding = padding if isinstance(padding, str) else (0, _first(padding))
        y = self.conv2d(self._as_2d(x), w, bias, (1, _first(stride)), padding,
                        (1, _first(dilation)), groups, hint)
        return self._from_2d(y)

    def pool1d(self, x, kind, kernel, stride, padding, dilation, ceil_mode,
               count_include_pad=True):
        stride = kernel if stride in (None, []) else stride
        y = self.pool2d(self._as_2d(x), kind, (1, _first(kernel)), (1, _first(stride)),
                        (0, _first(padding)), (1, _first(dilation)), ceil_mode, count_include_pad)
        return self._from_2d(y)

    def pool_module(self, x, mod):
        """nn.{Max,Avg}Pool{1,2}d and their adaptive forms."""
        name = type(mod).__name__
        if getattr(mod, "return_indices", False):
            raise UnsupportedOperationError(f"{name}(return_indices=True)")
        kind = "max" if "Max" in name else "avg"
        one_d = name.endswith("1d")
        if name.startswith("Adaptive"):
            if not one_d:
                return self.adaptive_pool2d(x, kind, mod.output_size)
            size = mod.output_size
            size = size[0] if isinstance(size, tuple) else size
            return self._from_2d(self.adaptive_pool2d(self._as_2d(x), kind, (1, size)))
        dilation = mod.dilation if kind == "max" else 1
        avg = () if kind == "max" else (mod.count_include_pad,)
        if one_d:
            return self.pool1d(x, kind, mod.kernel_size, mod.stride, mod.padding, dilation,
                               mod.ceil_mode, *avg)
        if kind == "avg":
            avg += (mod.divisor_override,)
        return self.pool2d(x, kind, mod.kernel_size, mod.stride, mod.padding, dilation,
                           mod.ceil_mode, *avg)

    def pool2d(self, x, kind, kernel, stride, padding, dilation, ceil_mode,
               count_include_pad=True, divisor_override=None):
        pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
        kh, kw = pair(kernel)
        sh, sw = pair(stride if stride not in (None, []) else kernel)
        ph, pw = pair(padding)
        dh, dw = pair(dilation)
        if ceil_mode:
            raise UnsupportedOperationError("pooling with ceil_mode=True")
        if kind == "avg" and (not count_include_pad or divisor_override) and (ph or pw or divisor_override):
            raise UnsupportedOperationError(
                "AvgPool2d with count_include_pad=False or divisor_override")
        n, c, h, w = x.shape
        oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        padv = float("-inf") if kind == "max" else 0.0
        xp = self.e.pad(x, [0, 0, ph, pw], [0, 0, ph, pw], padv)
        window = self.e.empty((kh, kw), x.dtype)
        attrs = (f"{{dilations = dense<[{dh}, {dw}]> : tensor<2xi64>, "
                 f"strides = dense<[{sh}, {sw}]> : tensor<2xi64>}}")
        init = self.e.filled((n, c, oh, ow), x.dtype, padv)
        op = "linalg.pooling_nchw_max" if kind == "max" else "linalg.pooling_nchw_sum"
        y = self.e.named(op, [xp, window], (n, c, oh, ow), x.dtype, attrs, init=init)
        if kind == "avg":
            inv = 1.0 / (kh * kw)

            def body(nm):
                r = self.e.fresh("r")
                return [f"{r} = arith.mulf {nm[0]}, {nm[1]} : {x.elem}"], r
            y = self.e.elementwise([y, inv], y.shape, y.dtype, body)
        return y

    def adaptive_pool2d(self, x, kind, output_size):
        """Adaptive pooling where each output size divides the input's: a
        plain pooling with kernel = stride = input / output."""
        if x.rank != 4:
            raise UnsupportedOperationError(f"adaptive pooling of a rank-{x.rank} tensor")
        out = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
        if len(out) != 2:
            raise UnsupportedOperationError(f"adaptive pooling to {output_size}")
        h, w = x.shape[2:]
        out = tuple(d if o is None else int(o) for o, d in zip(out, (h, w)))
        if any(o <= 0 or d % o for o, d in zip(out, (h, w))):
            raise UnsupportedOperationError(
                f"adaptive pooling of {h}x{w} to {out[0]}x{out[1]} (only output "
                "sizes that divide the input's)")
        kernel = (h // out[0], w // out[1])
        return self.pool2d(x, kind, kernel, kernel, 0, 1, False)

    # -- normalisation, softmax -------------------------------------------
    def mean(self, x, dims, keepdim):
        dims = [self.norm_dim(d, x.rank) for d in dims]
        s = self.e.reduce(x, dims, "sum", keepdim)
        count = int(np.prod([x.shape[d] for d in dims], dtype=np.int64))

        def body(n):
            r = self.e.fresh("r")
            return [f"{r} = arith.divf {n[0]}, {n[1]} : {x.elem}"], r
        return self.e.elementwise([s, float(count)], s.shape, s.dtype, body)

    def softmax(self, x, dim):
        dim = self.norm_dim(dim, x.rank)
        mx = self.e.reduce(x, [dim], "max", keepdim=True)

        def ex(n):
            d, r = self.e.fresh("d"), self.e.fresh("r")
            return [f"{d} = arith.subf {n[0]}, {n[1]} : {x.elem}",
                    f"{r} = math.exp {d} : {x.elem}"], r
        e = self.e.elementwise([x, mx], x.shape, x.dtype, ex)
        s = self.e.reduce(e, [dim], "sum", keepdim=True)

        def div(n):
            r = self.e.fresh("r")
            return [f"{r} = arith.divf {n[0]}, {n[1]} : {x.elem}"], r
        return self.e.elementwise([e, s], x.shape, x.dtype, div)

    def layer_norm(self, x, normalized_shape, weight, bias, eps, hint):
        k = len(normalized_shape)
        dims = list(range(x.rank - k, x.rank))
        mu = self.mean(x, dims, True)

        def centre(n):
            r = self.e.fresh("r")
            return [f"{r} = arith.subf {n[0]}, {n[1]} : {x.elem}"], r
        xc = self.e.elementwise([x, mu], x.shape, x.dtype, centre)

        def sq(n):
            r = self.e.fresh("r")
            return [f"{r} = arith.mulf {n[0]}, {n[0]} : {x.elem}"], r
        var = self.mean(self.e.elementwise([xc], x.shape, x.dtype, sq), dims, True)

        def norm(n):
            a, s, r = self.e.fresh("a"), self.e.fresh("s"), self.e.fresh("r")
            return [f"{a} = arith.addf {n[1]}, {n[2]} : {x.elem}",
                    f"{s} = math.sqrt {a} : {x.elem}",
                    f"{r} = arith.divf {n[0]}, {s} : {x.elem}"], r
        y = self.e.elementwise([xc, var, float(eps)], x.shape, x.dtype, norm)
        if weight is not None:
            w = self.const(weight, hint + "_weight")

            def mul(n):
                r = self.e.fresh("r")
                return [f"{r} = arith.mulf {n[0]}, {n[1]} : {x.elem}"], r
            y = self.e.elementwise([y, w], x.shape, x.dtype, mul)
        if bias is not None:
            y = self._add(y, self.const(bias, hint + "_bias"))
        return y

    def batch_norm(self, x, mod, hint):
        scale, shift = _bn_affine(mod)
        s = self.e.constant(scale.numpy(), hint + "_scale")
        b = self.e.constant(shift.numpy(), hint + "_shift")
        return self.scale_shift(x, s, b, 1)

    def embedding(self, idx, weight, hint):
        w = self.const(weight, hint + "_weight")
        vocab, dim = w.shape
        out_shape = idx.shape + (dim,)
        n = len(out_shape)
        maps = [affine_map(n, [f"d{i}" for i in range(n - 1)]),
                affine_map(n, [f"d{i}" for i in range(n)])]

        def body(args, out):
            # Indices are clamped to [0, vocab) so an out-of-range id can
            # never read outside the table (PyTorch raises instead).
            c = [self.e.fresh("x") for _ in range(6)]
            return [f"{c[0]} = arith.index_cast {args[0]} : {idx.elem} to index",
                    f"{c[1]} = arith.constant 0 : index",
                    f"{c[2]} = arith.constant {vocab - 1} : index",
                    f"{c[3]} = arith.maxsi {c[0]}, {c[1]} : index",
                    f"{c[4]} = arith.minsi {c[3]}, {c[2]} : index",
                    f"{c[5]} = linalg.index {n - 1} : index",
                    f"{out}_v = tensor.extract {w.name}[{c[4]}, {c[5]}] : {w.type}"], f"{out}_v"
        return self.e.generic([idx], maps, out_shape, w.dtype, ["parallel"] * n, body)

    # -- shapes --------------------------------------------------------------
    def getitem(self, node, x, index):
        out = self.values[node]
        if not isinstance(index, tuple):
            index = (index,)
        if any(i is None for i in index):
            raise UnsupportedOperationError(f"indexing with None in {_describe(node, self.gm)}")
        if sum(1 for i in index if i is Ellipsis) > 1:
            raise UnsupportedOperationError("more than one Ellipsis")
        if Ellipsis in index:
            pos = index.index(Ellipsis)
            fill = x.rank - (len(index) - 1)
            index = index[:pos] + (slice(None),) * fill + index[pos + 1:]
        index = index + (slice(None),) * (x.rank - len(index))
        offsets, sizes, strides, keep = [], [], [], []
        for d, i in enumerate(index):
            if isinstance(i, slice):
                start, stop, step = i.indices(x.shape[d])
                if step <= 0:
                    raise UnsupportedOperationError("slices with a non-positive step")
                size = max(0, (stop - start + step - 1) // step)
                offsets.append(start)
                sizes.append(size)
                strides.append(step)
                keep.append(size)
            elif isinstance(i, int):
                if not -x.shape[d] <= i < x.shape[d]:
                    raise IndexError(f"index {i} out of range for dimension of size {x.shape[d]}")
                offsets.append(i % x.shape[d])
                sizes.append(1)
                strides.append(1)
            else:
                raise UnsupportedOperationError(
                    f"tensor indexing with {type(i).__name__} in {_describe(node, self.gm)}")
        if tuple(sizes) == x.shape and all(o == 0 for o in offsets) and len(keep) == x.rank:
            return x
        v = self.e.extract_slice(x, offsets, sizes, strides, sizes)
        return self.e.reshape(v, tuple(out.shape))

    def cat(self, tensors, dim):
        rank = tensors[0].rank
        dim = self.norm_dim(dim, rank)
        shape = list(tensors[0].shape)
        shape[dim] = sum(t.shape[dim] for t in tensors)
        dest = self.e.empty(tuple(shape), tensors[0].dtype)
        offset = 0
        for t in tensors:
            offs = [0] * rank
            offs[dim] = offset
            dest = self.e.insert_slice(t, dest, offs)
            offset += t.shape[dim]
        return dest

    # -- dispatch ------------------------------------------------------------
    def run(self):
        graph = self.gm.graph
        nodes = list(graph.nodes)
        args = []
        folded_bn = set()
        for node in nodes:
            if node.op == "placeholder":
                value = self.values[node]
                if not isinstance(value, torch.Tensor):
                    raise TypeError(f"example input '{node.name}' must be a tensor, "
                                    f"got {type(value).__name__}")
                v = Value(f"%{re.sub(r'[^A-Za-z0-9_]', '_', node.name)}",
                          tuple(value.shape), _np_dtype(value))
                self.ssa[node] = v
                args.append(v)
            elif node.op == "get_attr":
                value = self.values[node]
                if isinstance(value, torch.Tensor):
                    self.ssa[node] = self.const(value, node.target)
            elif node.op == "output":
                outs = node.args[0]
                outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
                results = []
                for o in outs:
                    if not isinstance(o, torch.fx.Node) or o not in self.ssa:
                        raise UnsupportedOperationError("outputs must be tensors")
                    results.append(self.ssa[o])
                return self.e.module(self.func_name, args, results)
            else:
                if node in folded_bn:
                    continue
                value = self.values[node]
                if not isinstance(value, torch.Tensor):
                    # Python value (shape arithmetic): folded at import time.
                    if isinstance(value, (tuple, list)) and any(
                            isinstance(v, torch.Tensor) for v in value):
                        raise UnsupportedOperationError(
                            f"multiple tensor results of {_describe(node, self.gm)}")
                    continue
                if value.dtype not in (torch.float32, torch.int64, torch.int32):
                    raise UnsupportedOperationError(
                        f"{value.dtype} result of {_describe(node, self.gm)}")
                try:
                    self.ssa[node] = self.lower(node, folded_bn)
                except UnsupportedOperationError as err:
                    if "fx node" in str(err):
                        raise
                    raise UnsupportedOperationError(f"{err}: {_describe(node, self.gm)}") from None
        raise AssertionError("graph without output")

    def lower(self, node, folded_bn):
        if node.op == "call_module":
            # The user's name of the submodule (without the _Root wrapper's).
            self.e.module_name = node.target[len(self.wrapper_prefix):]
            try:
                return self.lower_module(node, self.gm.get_submodule(node.target), folded_bn)
            finally:
                self.e.module_name = None
        args = [self.val(a) for a in node.args]
        kwargs = {k: self.val(v) for k, v in node.kwargs.items()}
        target = node.target
        if node.op == "call_method":
            return self.lower_call(node, target, args, kwargs)
        name = _FUNCTIONS.get(target)
        if name is None:
            raise UnsupportedOperationError(f"unsupported {_describe(node, self.gm)}")
        return self.lower_call(node, name, args, kwargs)

    def lower_module(self, node, mod, folded_bn):
        x = self.val(node.args[0]) if node.args else None
        hint = node.target.replace(".", "_")
        if isinstance(mod, nn.Linear):
            return self.linear(x, mod.weight, mod.bias, hint)
        if isinstance(mod, (nn.Conv1d, nn.Conv2d)):
            kind = type(mod).__name__
            if mod.padding_mode != "zeros":
                raise UnsupportedOperationError(f"{kind} padding_mode={mod.padding_mode!r}")
            conv = self.conv1d if isinstance(mod, nn.Conv1d) else self.conv2d
            bn_type = nn.BatchNorm1d if isinstance(mod, nn.Conv1d) else nn.BatchNorm2d
            weight, bias = mod.weight, mod.bias
            users = list(node.users)
            if len(users) == 1 and users[0].op == "call_module" and isinstance(
                    self.gm.get_submodule(users[0].target), bn_type):
                bn_node = users[0]
                weight, bias = _fold_bn(mod, self.gm.get_submodule(bn_node.target))
                folded_bn.add(bn_node)
                y = conv(x, weight, bias, mod.stride, mod.padding, mod.dilation,
                         mod.groups, hint)
                self.ssa[bn_node] = y
                return y
            return conv(x, weight, bias, mod.stride, mod.padding, mod.dilation,
                        mod.groups, hint)
        if isinstance(mod, _POOLS):
            return self.pool_module(x, mod)
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            return self.batch_norm(x, mod, hint)
        if isinstance(mod, nn.ReLU):
            return self.relu(x)
        if isinstance(mod, nn.Hardtanh):  # nn.ReLU6 too
            return self.clamp(x, mod.min_val, mod.max_val)
        if isinstance(mod, nn.LeakyReLU):
            return self.leaky_relu(x, mod.negative_slope)
        if isinstance(mod, nn.Hardsigmoid):
            return self.hard_sigmoid(x, times_x=False)
        if isinstance(mod, nn.Hardswish):
            return self.hard_sigmoid(x, times_x=True)
        if isinstance(mod, nn.Sigmoid):
            return self.sigmoid(x)
        if isinstance(mod, nn.SiLU):
            return self.silu(x)
        if isinstance(mod, nn.GELU):
            return self.gelu(x, mod.approximate)
        if isinstance(mod, nn.Flatten):
            return self.e.reshape(x, tuple(self.values[node].shape))
        if isinstance(mod, (nn.Dropout, nn.Identity)):
            return x
        if isinstance(mod, nn.LayerNorm):
            return self.layer_norm(x, mod.normalized_shape, mod.weight, mod.bias, mod.eps, hint)
        if isinstance(mod, nn.Embedding):
            return self.embedding(x, mod.weight, hint)
        if isinstance(mod, nn.Softmax):
            return self.softmax(x, mod.dim)
        if isinstance(mod, nn.Tanh):
            return self.unary(x, self._math("math.tanh"))
        raise UnsupportedOperationError(f"unsupported {_describe(node, self.gm)}")

    def lower_call(self, node, name, args, kwargs):
        out = self.values[node]
        x = args[0] if args else None
        if name in ("add", "sub", "mul", "div", "truediv"):
            a = args[0] if args else kwargs["input"]
            b = args[1] if len(args) > 1 else kwargs["other"]
            alpha = kwargs.get("alpha", 1)
            if alpha != 1:
                raise UnsupportedOperationError(f"{name} with alpha")
            if kwargs.get("rounding_mode"):
                raise UnsupportedOperationError("div with rounding_mode")
            op = "div" if name == "truediv" else name
            if not isinstance(a, Value):
                if op in ("add", "mul"):
                    a, b = b, a
                else:
                    a = float(a)
            return self.binary(node, a, b, op)
        if name == "neg":
            def fn(a, elem):
                r = self.e.fresh("m")
                return [f"{r} = arith.negf {a} : {elem}"], r
            return self.unary(x, fn)
        if name in ("matmul", "bmm"):
            return self.matmul(node, args[0], args[1])
        if name == "relu":
            return self.relu(x)
        if name in ("clamp", "clip", "clamp_min", "clamp_max", "hardtanh", "relu6"):
            if name == "relu6":
                return self.clamp(x, 0.0, 6.0)
            lo, hi = {"clamp_min": ("min", None), "clamp_max": (None, "max"),
                      "hardtanh": ("min_val", "max_val")}.get(name, ("min", "max"))
            given = _call_params(args, kwargs, [k for k in (lo, hi) if k],
                                 {"min_val": -1.0, "max_val": 1.0})
            if any(isinstance(v, Value) for v in given.values()):
                raise UnsupportedOperationError(f"{name} with tensor bounds")
            return self.clamp(x, given.get(lo), given.get(hi))
        if name == "leaky_relu":
            slope = args[1] if len(args) > 1 else kwargs.get("negative_slope", 0.01)
            return self.leaky_relu(x, slope)
        if name in ("hardsigmoid", "hardswish"):
            return self.hard_sigmoid(x, times_x=name == "hardswish")
        if name in ("max_pool2d", "avg_pool2d"):
            keys = (["kernel_size", "stride", "padding", "dilation", "ceil_mode",
                     "return_indices"] if name == "max_pool2d" else
                    ["kernel_size", "stride", "padding", "ceil_mode",
                     "count_include_pad", "divisor_override"])
            p = _call_params(args, kwargs, keys,
                             {"padding": 0, "dilation": 1, "ceil_mode": False,
                              "return_indices": False, "count_include_pad": True})
            if name == "max_pool2d":
                if p["return_indices"]:
                    raise UnsupportedOperationError("max_pool2d(return_indices=True)")
                return self.pool2d(x, "max", p["kernel_size"], p["stride"], p["padding"],
                                   p["dilation"], p["ceil_mode"])
            return self.pool2d(x, "avg", p["kernel_size"], p["stride"], p["padding"], 1,
                               p["ceil_mode"], p["count_include_pad"],
                               p["divisor_override"])
        if name in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
            size = args[1] if len(args) > 1 else kwargs["output_size"]
            if name == "adaptive_max_pool2d" and (
                    args[2] if len(args) > 2 else kwargs.get("return_indices", False)):
                raise UnsupportedOperationError("adaptive_max_pool2d(return_indices=True)")
            return self.adaptive_pool2d(x, name.split("_")[1], size)
        if name == "silu":
            return self.silu(x)
        if name == "gelu":
            return self.gelu(x, kwargs.get("approximate", "none"))
        if name == "abs":
            return self.unary(x, self._math("math.absf"))
        if name == "sum":
            dims = args[1] if len(args) > 1 else kwargs.get("dim", None)
            keepdim = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
            if kwargs.get("dtype") is not None:
                raise UnsupportedOperationError("sum with dtype")
            if dims is None:
                dims = list(range(x.rank))
            if isinstance(dims, int):
                dims = [dims]
            return self.e.reduce(x, [self.norm_dim(d, x.rank) for d in dims], "sum",
                                 bool(keepdim))
        if name in ("exp", "tanh", "sqrt", "rsqrt", "sigmoid"):
            if name == "rsqrt":
                def fn(a, elem):
                    one, s, r = self.e.fresh("o"), self.e.fresh("s"), self.e.fresh("r")
                    return [f"{one} = arith.constant 1.0 : {elem}",
                            f"{s} = math.sqrt {a} : {elem}",
                            f"{r} = arith.divf {one}, {s} : {elem}"], r
                return self.unary(x, fn)
            if name == "sigmoid":
                return self.sigmoid(x)
            return self.unary(x, self._math(f"math.{name}"))
        if name == "pow":
            exponent = args[1] if len(args) > 1 else kwargs["exponent"]
            if isinstance(exponent, Value):
                raise UnsupportedOperationError("pow with a tensor exponent")
            exponent = float(exponent)
            if exponent == 2.0:
                def fn(a, elem):
                    r = self.e.fresh("m")
                    return [f"{r} = arith.mulf {a}, {a} : {elem}"], r
                return self.unary(x, fn)

            def body(n):
                r = self.e.fresh("m")
                return [f"{r} = math.powf {n[0]}, {n[1]} : {x.elem}"], r
            return self.e.elementwise([x, exponent], x.shape, x.dtype, body)
        if name == "mean":
            dims = args[1] if len(args) > 1 else kwargs.get("dim", None)
            keepdim = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
            if dims is None:
                dims = list(range(x.rank))
            if isinstance(dims, int):
                dims = [dims]
            return self.mean(x, list(dims), bool(keepdim))
        if name == "softmax":
            dim = args[1] if len(args) > 1 else kwargs.get("dim")
            if dim is None:
                raise UnsupportedOperationError("softmax without dim")
            if kwargs.get("dtype") is not None:
                raise UnsupportedOperationError("softmax with dtype")
            return self.softmax(x, dim)
        if name in ("reshape", "view", "flatten"):
            return self.e.reshape(x, tuple(out.shape))
        if name in ("contiguous", "clone", "detach", "float", "to"):
            if _np_dtype(out) != x.dtype:
                raise UnsupportedOperationError(f"dtype conversion in {name}")
            return x
        if name == "permute":
            dims = args[1:] if len(args) > 1 else kwargs["dims"]
            if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
                dims = dims[0]
            return self.e.transpose(x, [self.norm_dim(d, x.rank) for d in dims])
        if name in ("transpose",):
            d0 = self.norm_dim(args[1] if len(args) > 1 else kwargs["dim0"], x.rank)
            d1 = self.norm_dim(args[2] if len(args) > 2 else kwargs["dim1"], x.rank)
            perm = list(range(x.rank))
            perm[d0], perm[d1] = perm[d1], perm[d0]
            return self.e.transpose(x, perm)
        if name == "t":
            return self.e.transpose(x, [1, 0]) if x.rank == 2 else x
        if name == "getitem":
            return self.getitem(node, x, args[1])
        if name == "cat":
            tensors = args[0] if args else kwargs["tensors"]
            dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
            return self.cat(list(tensors), dim)
        if name == "linear":
            w = args[1] if len(args) > 1 else kwargs["weight"]
            b = args[2] if len(args) > 2 else kwargs.get("bias")
            return self._functional_linear(x, w, b)
        if name == "layer_norm":
            raise UnsupportedOperationError("functional layer_norm (use nn.LayerNorm)")
        raise UnsupportedOperationError(f"unsupported {_describe(node, self.gm)}")

    def _functional_linear(self, x, w, b):
        k = x.shape[-1]
        lead = x.shape[:-1]
        m = int(np.prod(lead, dtype=np.int64))
        wt = self.e.transpose(w, [1, 0])
        y = self.matmul2d(self.e.reshape(x, (m, k)), wt)
        if b is not None:
            y = self._add(y, b)
        return self.e.reshape(y, lead + (wt.shape[1],))


def _first(v):
    """A 1-D size given as an int or a 1-tuple."""
    return v[0] if isinstance(v, (tuple, list)) else v


def _call_params(args, kwargs, keys, defaults):
    """{key: value} of a call's parameters after its input (args[0]), by
    position or keyword, else from `defaults` (None when absent)."""
    return {k: args[1 + i] if len(args) > 1 + i else kwargs.get(k, defaults.get(k))
            for i, k in enumerate(keys)}


def _bn_affine64(bn):
    """The per-channel (scale, shift) of an eval-mode BatchNorm, in fp64."""
    if bn.training:
        raise UnsupportedOperationError(
            f"{type(bn).__name__} in training mode (call model.eval())")
    var = bn.running_var.detach().double()
    mean = bn.running_mean.detach().double()
    gamma = bn.weight.detach().double() if bn.affine else torch.ones_like(var)
    beta = bn.bias.detach().double() if bn.affine else torch.zeros_like(var)
    scale = gamma / torch.sqrt(var + bn.eps)
    return scale, beta - mean * scale


def _bn_affine(bn):
    scale, shift = _bn_affine64(bn)
    return scale.float(), shift.float()


def _fold_bn(conv, bn):
    """Conv weights/bias with an eval-mode BatchNorm folded in (in fp64)."""
    scale, shift = _bn_affine64(bn)
    w = conv.weight.detach().double()
    w = w * scale.reshape((-1,) + (1,) * (w.dim() - 1))
    b = conv.bias.detach().double() * scale if conv.bias is not None else torch.zeros_like(scale)
    return w.float(), (b + shift).float()


_FUNCTIONS = {
    operator.add: "add", torch.add: "add", operator.sub: "sub", torch.sub: "sub",
    operator.mul: "mul", torch.mul: "mul", operator.truediv: "truediv", torch.div: "div",
    operator.neg: "neg", torch.neg: "neg", torch.matmul: "matmul", operator.matmul: "matmul",
    torch.bmm: "bmm", torch.relu: "relu", F.relu: "relu", F.silu: "silu", F.gelu: "gelu",
    torch.exp: "exp", torch.tanh: "tanh", torch.sqrt: "sqrt", torch.rsqrt: "rsqrt",
    torch.sigmoid: "sigmoid", torch.pow: "pow", torch.mean: "mean", torch.abs: "abs",
    torch.sum: "sum",
    torch.softmax: "softmax", F.softmax: "softmax", torch.flatten: "flatten",
    torch.reshape: "reshape", torch.permute: "permute", torch.transpose: "transpose",
    operator.getitem: "getitem", torch.cat: "cat", F.linear: "linear",
    F.layer_norm: "layer_norm",
    torch.clamp: "clamp", torch.clip: "clip", torch.clamp_min: "clamp_min",
    torch.clamp_max: "clamp_max", F.hardtanh: "hardtanh", F.relu6: "relu6",
    F.leaky_relu: "leaky_relu", F.hardsigmoid: "hardsigmoid", F.hardswish: "hardswish",
    F.max_pool2d: "max_pool2d", F.avg_pool2d: "avg_pool2d",
    F.adaptive_avg_pool2d: "adaptive_avg_pool2d",
    F.adaptive_max_pool2d: "adaptive_max_pool2d",
}


_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d,
          nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)


class _Root(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    # torch 1.13's tracer cannot trace *args signatures on Python 3.11.
    def forward(self, x):
        return self.inner(x)


def import_module(module, example_inputs, *, func_name="forward"):
    """Imports ``module`` (an ``nn.Module`` in eval mode) called on
    ``example_inputs`` (a tuple of tensors) as MLIR text: one
    ``func.func @<func_name>`` on static-shape tensors, weights as
    ``dense_resource`` blobs.

    Raises :class:`UnsupportedOperationError` naming an operation it cannot
    lower and its source location."""
    if not isinstance(module, nn.Module):
        raise TypeError("import_module expects a torch.nn.Module")
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    example_inputs = tuple(example_inputs)
    for i, t in enumerate(example_inputs):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"example input {i} must be a tensor, got {type(t).__name__}")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$.]*", func_name):
        raise ValueError(f"invalid function name {func_name!r}")
    if module.training:
        raise ValueError("import_module needs the module in eval mode (call .eval())")
    if type(module).__module__.startswith("torch.nn.modules") and len(example_inputs) == 1:
        # A bare torch.nn layer: trace it as a leaf of a wrapper so it is
        # lowered as the module, not through its functional internals.
        module = _Root(module)
    graph = _Tracer().trace(module)
    gm = torch.fx.GraphModule(module, graph)
    importer = _Importer(gm, example_inputs, func_name)
    importer.wrapper_prefix = "inner." if isinstance(module, _Root) else ""
    return importer.run()
