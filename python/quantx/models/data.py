"""Datasets, fixed splits and committed weights of the example models.

Data come from Debian packages (no downloads):

* Fashion-MNIST: ``dataset-fashion-mnist`` installs the IDX files under
  ``/usr/share/datasets/fashion-mnist`` (override with
  ``QUANTX_FASHION_MNIST_DIR``).
* Jane Austen's six novels: ``r-cran-janeaustenr``; the text is extracted once
  with ``Rscript`` into a cache folder (``QUANTX_CACHE_DIR``, default
  ``~/.cache/quantx``).

Splits (``data/splits.json``, made by ``scripts/make_splits.py``):

* Fashion-MNIST: ``calib`` is 1,000 images of the 60,000-image training set
  chosen with a fixed seed, ``val`` 4,000 others, ``train`` the remaining
  55,000, ``test`` the 10,000 test images. Calibration and validation images
  are never trained on: choices made on ``val`` (an observer, say) see images
  as new to the model as the test images, and leave the test set untouched.
* Jane Austen: ``train`` is five novels, in package order, joined by blank
  lines, minus the last ``calib_chars`` characters, which form ``calib``;
  ``test`` is "Persuasion", never seen in training.
"""

import gzip
import json
import os
import struct
import subprocess
import tempfile

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(_HERE, "data")

FASHION_MEAN = 0.2860
FASHION_STD = 0.3530

AUSTEN_BOOKS = (
    "Sense & Sensibility", "Pride & Prejudice", "Mansfield Park", "Emma",
    "Northanger Abbey", "Persuasion",
)
AUSTEN_TEST_BOOK = "Persuasion"


def splits():
    with open(os.path.join(DATA_DIR, "splits.json"), encoding="utf-8") as f:
        return json.load(f)


# ----------------------------------------------------------------------------
# Fashion-MNIST
# ----------------------------------------------------------------------------

def fashion_mnist_dir():
    return os.environ.get("QUANTX_FASHION_MNIST_DIR",
                          "/usr/share/datasets/fashion-mnist")


def _read_idx(path, magic, ndim):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header")
    got, = struct.unpack(">I", raw[:4])
    if got != magic:
        raise ValueError(f"{path}: bad IDX magic {got:#x}, expected {magic:#x}")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    count = int(np.prod(dims))
    body = raw[4 + 4 * ndim:]
    if len(body) != count:
        raise ValueError(f"{path}: expected {count} bytes of data, found {len(body)}")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


_RAW_CACHE = {}


def _fashion_raw(kind):
    """(images uint8 [N, 28, 28], labels uint8 [N]) of the ``"train"`` or
    ``"test"`` IDX files, read-only; memoized while the files are unchanged."""
    d = fashion_mnist_dir()
    prefix = "train" if kind == "train" else "t10k"
    path = os.path.join(d, f"{prefix}-images-idx3-ubyte.gz")
    label_path = os.path.join(d, f"{prefix}-labels-idx1-ubyte.gz")
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Fashion-MNIST not found in {d}: install the Debian package "
            "dataset-fashion-mnist or set QUANTX_FASHION_MNIST_DIR")
    stamp = []
    for p in (path, label_path):
        try:
            st = os.stat(p)
        except OSError as e:
            raise FileNotFoundError(f"Fashion-MNIST: cannot read {p}: {e}") from e
        stamp.append((os.path.abspath(p), st.st_mtime_ns, st.st_size))
    key = tuple(stamp)
    cached = _RAW_CACHE.get(kind)
    if cached is None or cached[0] != key:
        images = _read_idx(path, 0x803, 3)
        labels = _read_idx(label_path, 0x801, 1)
        if images.shape[0] != labels.shape[0]:
            raise ValueError("Fashion-MNIST: image and label counts differ")
        # One entry per kind (55 MB in all for the real data set).
        _RAW_CACHE[kind] = cached = (key, (images, labels))
    return cached[1]


def normalize_fashion(images_u8):
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28], (x/255 - mean) / std."""
    x = images_u8.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(FASHION_MEAN)) / np.float32(FASHION_STD)
    return x[:, None, :, :].astype(np.float32)


def load_fashion_mnist(split):
    """Returns (images float32 [N, 1, 28, 28], labels int64 [N]) of a split:
    ``"train"``, ``"calib"``, ``"val"`` or ``"test"``."""
    if split == "test":
        images, labels = _fashion_raw("test")
    elif split in ("train", "calib", "val"):
        images, labels = _fashion_raw("train")
        held_out = {k: np.asarray(splits()["fashion_mnist"][f"{k}_indices"], dtype=np.int64)
                    for k in ("calib", "val")}
        if split in held_out:
            idx = held_out[split]
        else:
            keep = np.ones(images.shape[0], dtype=bool)
            for indices in held_out.values():
                keep[indices] = False
            idx = np.nonzero(keep)[0]
        images, labels = images[idx], labels[idx]
    else:
        raise ValueError(f"unknown Fashion-MNIST split {split!r}")
    return normalize_fashion(images), labels.astype(np.int64)


# ----------------------------------------------------------------------------
# Jane Austen
# ----------------------------------------------------------------------------

def cache_dir():
    return os.environ.get("QUANTX_CACHE_DIR",
                          os.path.join(os.path.expanduser("~"), ".cache", "quantx"))


_R_EXTRACT = r"""
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(janeaustenr))
b <- austen_books()
for (i in seq_along(levels(b$book))) {
  name <- levels(b$book)[i]
  lines <- as.character(b$text[b$book == name])
  con <- file(file.path(args[1], sprintf("%d.txt", i)), open = "w", encoding = "UTF-8")
  writeLines(lines, con, sep = "\n", useBytes = FALSE)
  close(con)
}
writeLines(levels(b$book), file.path(args[1], "books.txt"))
"""


def austen_book(name):
    """The text of one novel (lines joined by newlines), extracted with
    Rscript from the r-cran-janeaustenr package on first use and cached."""
    if name not in AUSTEN_BOOKS:
        raise ValueError(f"unknown novel {name!r}")
    root = os.path.join(cache_dir(), "janeaustenr")
    index = os.path.join(root, "books.txt")
    if not os.path.exists(index):
        os.makedirs(cache_dir(), exist_ok=True)
        tmp = tempfile.mkdtemp(dir=cache_dir())
        try:
            subprocess.run(["Rscript", "-e", _R_EXTRACT, tmp], check=True,
                           capture_output=True)
        except FileNotFoundError as e:
            raise RuntimeError("Rscript not found: install r-cran-janeaustenr") from e
        except subprocess.CalledProcessError as e:
            raise RuntimeError("extracting Jane Austen's novels failed: "
                               + e.stderr.decode(errors="replace")) from e
        try:
            os.rename(tmp, root)
        except OSError:
            pass  # Another process extracted it first.
    with open(index, encoding="utf-8") as f:
        names = f.read().splitlines()
    with open(os.path.join(root, f"{names.index(name) + 1}.txt"), encoding="utf-8") as f:
        return f.read()


def load_austen(split):
    """Text of a split: ``"train"``, ``"calib"`` or ``"test"``."""
    if split == "test":
        return austen_book(AUSTEN_TEST_BOOK)
    corpus = "\n\n".join(austen_book(b) for b in AUSTEN_BOOKS if b != AUSTEN_TEST_BOOK)
    n = int(splits()["austen"]["calib_chars"])
    if split == "train":
        return corpus[:-n]
    if split == "calib":
        return corpus[-n:]
    raise ValueError(f"unknown Jane Austen split {split!r}")


# ----------------------------------------------------------------------------
# Weights
# ----------------------------------------------------------------------------

MODELS = ("fashion_cnn", "fashion_mlp", "charlm")


def weights_path(name):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return os.path.join(DATA_DIR, f"{name}.npz")


def save_weights(model, path, meta=None):
    """Writes a state dict as float16 arrays (halves the committed size; the
    float model *is* these weights widened to fp32) plus JSON metadata,
    atomically."""
    arrays = {}
    for key, value in model.state_dict().items():
        v = value.detach().cpu().numpy()
        arrays[key] = v.astype(np.float16) if v.dtype.kind == "f" else v
    arrays["__meta__"] = np.array(json.dumps(meta or {}, ensure_ascii=False))
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".npz")
    os.close(fd)
    try:
        np.savez_compressed(tmp, **arrays)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates files private
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load_weights(path):
    """(state dict of float32/int torch tensors, metadata dict)."""
    import torch
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["__meta__"]))
        state = {k: torch.from_numpy(z[k].astype(np.float32) if z[k].dtype.kind == "f"
                                     else z[k].copy())
                 for k in z.files if k != "__meta__"}
    return state, meta


def load(name, path=None):
    """A trained example model in eval mode with its committed weights (or
    those in ``path``). For ``"charlm"`` returns (model, tokenizer)."""
    if path is None:
        path = weights_path(name)
    elif name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path}: no weights for {name!r}; make them with scripts/train_models.py")
    state, meta = load_weights(path)
    if name == "fashion_cnn":
        from .fashion import FashionCNN
        model = FashionCNN()
    elif name == "fashion_mlp":
        from .fashion import FashionMLP
        model = FashionMLP()
    else:
        from .charlm import CharLlama, CharTokenizer, LlamaConfig
        model = CharLlama(LlamaConfig.from_json(meta["config"]))
        tok = CharTokenizer.from_json(meta["tokenizer"])
    model.load_state_dict(state)
    model.eval()
    return (model, tok) if name == "charlm" else model
