"""Textual MLIR emission helpers for the torch.fx importer.

Everything is emitted on static-shape ranked tensors with upstream dialects
only (func, linalg, tensor, arith, math). Values are ``Value(name, shape,
dtype)`` records; an :class:`Emitter` appends lines to one function body and
collects constants for the module's ``dialect_resources`` section.
"""

import dataclasses
import math
import struct

import numpy as np

_MLIR_TYPES = {
    np.dtype(np.float32): "f32",
    np.dtype(np.float64): "f64",
    np.dtype(np.float16): "f16",
    np.dtype(np.int64): "i64",
    np.dtype(np.int32): "i32",
    np.dtype(np.int8): "i8",
    np.dtype(np.uint8): "i8",
    np.dtype(np.bool_): "i1",
}


def mlir_elem(dtype):
    dtype = np.dtype(dtype)
    if dtype not in _MLIR_TYPES:
        raise TypeError(f"unsupported element type {dtype}")
    return _MLIR_TYPES[dtype]


def tensor_type(shape, dtype):
    dims = "".join(f"{d}x" for d in shape)
    return f"tensor<{dims}{mlir_elem(dtype)}>"


def is_float(dtype):
    return np.dtype(dtype).kind == "f"


def float_literal(value, elem="f32"):
    """An exact MLIR float literal (hexadecimal bit pattern for non-finite
    values or values that do not round-trip through repr)."""
    value = float(value)
    if elem == "f32":
        value = float(np.float32(value))
    if math.isfinite(value):
        text = repr(value)
        if "e" not in text and "." not in text:
            text += ".0"
        return text
    if elem == "f32":
        return "0x%08X" % struct.unpack("<I", struct.pack("<f", value))[0]
    return "0x%016X" % struct.unpack("<Q", struct.pack("<d", value))[0]


@dataclasses.dataclass(frozen=True)
class Value:
    name: str
    shape: tuple
    dtype: np.dtype

    @property
    def type(self):
        return tensor_type(self.shape, self.dtype)

    @property
    def rank(self):
        return len(self.shape)

    @property
    def elem(self):
        return mlir_elem(self.dtype)


def _dims(n, prefix="d"):
    return ", ".join(f"{prefix}{i}" for i in range(n))


def affine_map(n, results):
    return f"affine_map<({_dims(n)}) -> ({', '.join(results)})>"


def mlir_string(text):
    """`text` as an MLIR string literal: printable ASCII as is, `"` and `\\`
    escaped, every other byte of its UTF-8 as `\\XX`."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{byte:02X}")
    return '"' + "".join(out) + '"'


class Emitter:
    """Builds one ``func.func`` and the resource blobs it references."""

    def __init__(self):
        self.lines = []
        self.counter = 0
        # While a PyTorch module is lowered: its qualified name, given to
        # the named linalg ops it emits as their location (loc("fc1")), so
        # that passes name layers after the modules (quantx-ptq's report,
        # keep-float patterns).
        self.module_name = None
        self.resources = {}  # name -> bytes (with alignment prefix)
        self.resource_names = set()

    # -- names -----------------------------------------------------------
    def fresh(self, hint="v"):
        self.counter += 1
        return f"%{hint}{self.counter}"

    def emit(self, line):
        self.lines.append("    " + line)

    # -- constants ---------------------------------------------------------
    def resource_name(self, hint):
        base = "".join(c if (c.isascii() and c.isalnum()) or c == "_" else "_"
                       for c in hint) or "cst"
        if base[0].isdigit():
            base = "_" + base
        name, i = base, 0
        while name in self.resource_names:
            i += 1
            name = f"{base}_{i}"
        self.resource_names.add(name)
        return name

    def constant(self, array, hint="cst"):
        """A tensor constant as a dense_resource blob."""
        array = np.ascontiguousarray(array)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        if array.dtype == np.bool_:
            raise TypeError("boolean constants are not supported")
        name = self.resource_name(hint)
        align = max(array.dtype.itemsize, 1)
        self.resources[name] = struct.pack("<I", align) + array.astype(
            array.dtype.newbyteorder("<")).tobytes()
        v = Value(self.fresh("cst"), tuple(array.shape), array.dtype)
        self.emit(f"{v.name} = arith.constant dense_resource<{name}> : {v.type}")
        return v

    def scalar(self, value, elem):
        name = self.fresh("c")
        if elem.startswith("f"):
            self.emit(f"{name} = arith.constant {float_literal(value, elem)} : {elem}")
        else:
            self.emit(f"{name} = arith.constant {int(value)} : {elem}")
        return name

    def index(self, value):
        name = self.fresh("i")
        self.emit(f"{name} = arith.constant {int(value)} : index")
        return name

    # -- tensors -----------------------------------------------------------
    def empty(self, shape, dtype):
        v = Value(self.fresh("e"), tuple(shape), np.dtype(dtype))
        self.emit(f"{v.name} = tensor.empty() : {v.type}")
        return v

    def filled(self, shape, dtype, value):
        init = self.empty(shape, dtype)
        c = self.scalar(value, init.elem)
        v = Value(self.fresh("f"), init.shape, init.dtype)
        self.emit(f"{v.name} = linalg.fill ins({c} : {init.elem}) outs({init.name} : "
                  f"{init.type}) -> {v.type}")
        return v

    def generic(self, inputs, maps, out_shape, out_dtype, iterators, body, init=None,
                loc=None):
        """linalg.generic. ``inputs`` are Values with their affine maps
        (strings) in ``maps`` (the output map last); ``body(args, out)`` gets
        the block argument names and returns (lines, result name); ``loc``
        names the op (its location)."""
        if init is None:
            init = self.empty(out_shape, out_dtype)
        args = [self.fresh("a") for _ in inputs]
        out = self.fresh("o")
        lines, result = body(args, out)
        v = Value(self.fresh("g"), tuple(out_shape), np.dtype(out_dtype))
        iters = ", ".join(f'"{i}"' for i in iterators)
        ins = ""
        if inputs:
            ins = (f" ins({', '.join(i.name for i in inputs)} : "
                   f"{', '.join(i.type for i in inputs)})")
        self.emit(f"{v.name} = linalg.generic {{indexing_maps = [{', '.join(maps)}], "
                  f"iterator_types = [{iters}]}}{ins} outs({init.name} : {init.type}) {{")
        block_args = [f"{a}: {i.elem}" for a, i in zip(args, inputs)]
        block_args.append(f"{out}: {init.elem}")
        self.lines.append(f"    ^bb0({', '.join(block_args)}):")
        for line in lines:
            self.emit("  " + line)
        self.emit(f"  linalg.yield {result} : {init.elem}")
        self.emit(f"}} -> {v.type}" + (f" loc({mlir_string(loc)})" if loc else ""))
        return v

    def collapse(self, x, groups, shape):
        v = Value(self.fresh("r"), tuple(shape), x.dtype)
        reassoc = "[" + ", ".join("[" + ", ".join(map(str, g)) + "]" for g in groups) + "]"
        self.emit(f"{v.name} = tensor.collapse_shape {x.name} {reassoc} : {x.type} into {v.type}")
        return v

    def expand(self, x, groups, shape):
        v = Value(self.fresh("r"), tuple(shape), x.dtype)
        reassoc = "[" + ", ".join("[" + ", ".join(map(str, g)) + "]" for g in groups) + "]"
        dims = ", ".join(str(d) for d in shape)
        self.emit(f"{v.name} = tensor.expand_shape {x.name} {reassoc} output_shape [{dims}] "
                  f": {x.type} into {v.type}")
        return v

    def reshape(self, x, shape):
        """Row-major reshape between static shapes (collapse to 1-D, then
        expand), or a no-op when the shape does not change."""
        shape = tuple(int(d) for d in shape)
        if int(np.prod(shape, dtype=np.int64)) != int(np.prod(x.shape, dtype=np.int64)):
            raise ValueError(f"cannot reshape {x.shape} to {shape}")
        if shape == x.shape:
            return x
        if x.rank == 0:
            flat = self.expand(x, [], (1,)) if shape != () else x
        elif x.rank == 1:
            flat = x
        else:
            flat = self.collapse(x, [list(range(x.rank))], (int(np.prod(x.shape)),))
        if len(shape) == 0:
            return self.collapse(flat, [], ())
        if len(shape) == 1:
            return flat
        return self.expand(flat, [list(range(len(shape)))], shape)

    def transpose(self, x, perm):
        perm = [int(p) for p in perm]
        if perm == list(range(x.rank)):
            return x
        shape = tuple(x.shape[p] for p in perm)
        init = self.empty(shape, x.dtype)
        v = Value(self.fresh("t"), shape, x.dtype)
        self.emit(f"{v.name} = linalg.transpose ins({x.name} : {x.type}) outs({init.name} : "
                  f"{init.type}) permutation = [{', '.join(map(str, perm))}]")
        return v

    def broadcast_operand(self, x, out_shape):
        """(operand, indexing map) reading ``x`` broadcast (numpy rules) to
        ``out_shape``: unit dimensions that are broadcast are collapsed away so
        every map is a projected permutation."""
        n = len(out_shape)
        lead = n - x.rank
        if lead < 0:
            raise ValueError(f"cannot broadcast {x.shape} to {out_shape}")
        kept = []
        for i, d in enumerate(x.shape):
            o = out_shape[lead + i]
            if d == o:
                kept.append(i)
            elif d != 1:
                raise ValueError(f"cannot broadcast {x.shape} to {out_shape}")
        if len(kept) != x.rank:
            if not kept:
                x = self.collapse(x, [], ()) if x.rank else x
            else:
                groups, current = [], []
                for i in range(x.rank):
                    current.append(i)
                    if i in kept:
                        groups.append(current)
                        current = []
                if current:
                    groups[-1].extend(current)
                x = self.collapse(x, groups, tuple(x.shape[i] for i in kept))
        results = [f"d{lead + i}" for i in kept]
        return x, affine_map(n, results)

    def elementwise(self, operands, out_shape, out_dtype, body, loc=None):
        """Element-wise op over Values (broadcast to ``out_shape``) and
        Python scalars (materialised in the body). ``body(names)`` gets one
        SSA name per operand and returns (lines, result); ``loc`` names the
        op."""
        out_shape = tuple(out_shape)
        n = len(out_shape)
        inputs, maps, slots = [], [], []
        for op in operands:
            if isinstance(op, Value):
                v, m = self.broadcast_operand(op, out_shape)
                slots.append(("in", len(inputs)))
                inputs.append(v)
                maps.append(m)
            else:
                slots.append(("scalar", op))
        maps.append(affine_map(n, [f"d{i}" for i in range(n)]))
        elem = mlir_elem(out_dtype)

        def gen(args, out):
            lines, names = [], []
            for kind, payload in slots:
                if kind == "in":
                    names.append(args[payload])
                else:
                    c = self.fresh("c")
                    lit = (float_literal(payload, elem) if elem.startswith("f")
                           else str(int(payload)))
                    lines.append(f"{c} = arith.constant {lit} : {elem}")
                    names.append(c)
            more, result = body(names)
            return lines + more, result

        return self.generic(inputs, maps, out_shape, out_dtype, ["parallel"] * n, gen,
                            loc=loc)

    def reduce(self, x, dims, kind, keepdim):
        """Sum or max over ``dims`` (sorted, non-negative)."""
        dims = sorted(set(dims))
        out_shape = tuple(d for i, d in enumerate(x.shape) if i not in dims)
        init_value = 0.0 if kind == "sum" else float("-inf")
        init = self.filled(out_shape, x.dtype, init_value)
        n = x.rank
        in_map = affine_map(n, [f"d{i}" for i in range(n)])
        out_map = affine_map(n, [f"d{i}" for i in range(n) if i not in dims])
        iters = ["reduction" if i in dims else "parallel" for i in range(n)]
        op = "arith.addf" if kind == "sum" else "arith.maximumf"

        def body(args, out):
            r = self.fresh("s")
            return [f"{r} = {op} {args[0]}, {out} : {x.elem}"], r

        v = self.generic([x], [in_map, out_map], out_shape, x.dtype, iters, body, init=init)
        if keepdim:
            kept_shape = tuple(1 if i in dims else d for i, d in enumerate(x.shape))
            v = self.reshape(v, kept_shape)
        return v

    def extract_slice(self, x, offsets, sizes, strides, result_shape):
        v = Value(self.fresh("sl"), tuple(result_shape), x.dtype)
        fmt = lambda xs: "[" + ", ".join(str(int(i)) for i in xs) + "]"  # noqa: E731
        self.emit(f"{v.name} = tensor.extract_slice {x.name}{fmt(offsets)}{fmt(sizes)}"
                  f"{fmt(strides)} : {x.type} to {v.type}")
        return v

    def insert_slice(self, src, dest, offsets):
        v = Value(self.fresh("ins"), dest.shape, dest.dtype)
        fmt = lambda xs: "[" + ", ".join(str(int(i)) for i in xs) + "]"  # noqa: E731
        self.emit(f"{v.name} = tensor.insert_slice {src.name} into {dest.name}{fmt(offsets)}"
                  f"{fmt(src.shape)}{fmt([1] * src.rank)} : {src.type} into {dest.type}")
        return v

    def pad(self, x, low, high, value):
        if not any(low) and not any(high):
            return x
        shape = tuple(d + lo + hi for d, lo, hi in zip(x.shape, low, high))
        v = Value(self.fresh("p"), shape, x.dtype)
        c = self.scalar(value, x.elem)
        fmt = lambda xs: "[" + ", ".join(str(int(i)) for i in xs) + "]"  # noqa: E731
        idx = ", ".join(self.fresh("pi") + ": index" for _ in range(x.rank))
        self.emit(f"{v.name} = tensor.pad {x.name} low{fmt(low)} high{fmt(high)} {{")
        self.lines.append(f"    ^bb0({idx}):")
        self.emit(f"  tensor.yield {c} : {x.elem}")
        self.emit(f"}} : {x.type} to {v.type}")
        return v

    def named(self, op, inputs, out_shape, dtype, attrs="", init=None):
        """A linalg named op with ``outs`` initialised to zero."""
        if init is None:
            init = self.filled(out_shape, dtype, 0.0)
        v = Value(self.fresh("n"), tuple(out_shape), np.dtype(dtype))
        attrs = f" {attrs}" if attrs else ""
        loc = f" loc({mlir_string(self.module_name)})" if self.module_name else ""
        self.emit(f"{v.name} = {op}{attrs} ins({', '.join(i.name for i in inputs)} : "
                  f"{', '.join(i.type for i in inputs)}) outs({init.name} : {init.type}) "
                  f"-> {v.type}{loc}")
        return v

    # -- module ------------------------------------------------------------
    def module(self, func_name, args, results):
        sig = ", ".join(f"{a.name}: {a.type}" for a in args)
        res = ", ".join(r.type for r in results)
        res_sig = res if len(results) == 1 else f"({res})"
        out = [f"func.func @{func_name}({sig}) -> {res_sig} {{"]
        out += self.lines
        out.append(f"    return {', '.join(r.name for r in results)} : {res}")
        out.append("}")
        text = "module {\n" + "\n".join("  " + line for line in out) + "\n}\n"
        if self.resources:
            blobs = ",\n".join(f"      {k}: \"0x{v.hex().upper()}\""
                               for k, v in self.resources.items())
            text += ("\n{-#\n  dialect_resources: {\n    builtin: {\n" + blobs +
                     "\n    }\n  }\n#-}\n")
        return text
