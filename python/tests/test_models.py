"""The example models: data splits, loaders, committed weights and the float
metrics recorded in quantx/models/data/metrics.json (see docs/Models.md)."""

import gzip
import json
import math
import os
import shutil
import struct

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from quantx.models import data, evaluate  # noqa: E402
from quantx.models.charlm import CharTokenizer, LlamaConfig  # noqa: E402
from quantx.models.fashion import FashionCNN, FashionMLP  # noqa: E402

FASHION_DIR = data.fashion_mnist_dir()
HAVE_FASHION = os.path.exists(os.path.join(FASHION_DIR, "t10k-images-idx3-ubyte.gz"))
needs_fashion = pytest.mark.skipif(
    not HAVE_FASHION, reason="Fashion-MNIST absent: install dataset-fashion-mnist")
HAVE_AUSTEN = (os.path.exists(os.path.join(data.cache_dir(), "janeaustenr", "books.txt"))
               or shutil.which("Rscript") is not None)
needs_austen = pytest.mark.skipif(
    not HAVE_AUSTEN, reason="Jane Austen's novels absent: install r-cran-janeaustenr")

# Sizes of the splits (docs/Models.md).
FASHION_SIZES = {"train": 55000, "calib": 1000, "val": 4000, "test": 10000}
AUSTEN_SIZES = {"train": 3492646, "calib": 65536, "test": 466854}


@pytest.fixture(scope="module")
def metrics():
    with open(os.path.join(data.DATA_DIR, "metrics.json"), encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(autouse=True, scope="module")
def _threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


# ----------------------------------------------------------------------------
# Fashion-MNIST splits and loader
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("split", ["calib", "val"])
def test_fashion_held_out_indices_well_formed(split):
    idx = np.asarray(data.splits()["fashion_mnist"][f"{split}_indices"])
    assert idx.shape == (FASHION_SIZES[split],)
    assert np.all(np.diff(idx) > 0), f"{split} indices sorted and unique"
    assert idx.min() >= 0 and idx.max() < 60000


def test_fashion_calib_and_val_disjoint():
    s = data.splits()["fashion_mnist"]
    assert not set(s["calib_indices"]) & set(s["val_indices"])


@needs_fashion
def test_fashion_splits_disjoint_and_sized():
    raw_images, raw_labels = data._fashion_raw("train")
    assert raw_images.shape == (60000, 28, 28)
    held_out = {}
    for split in ("calib", "val"):
        held_out[split] = np.zeros(60000, dtype=bool)
        held_out[split][data.splits()["fashion_mnist"][f"{split}_indices"]] = True
    in_train = ~(held_out["calib"] | held_out["val"])

    loaded = {split: data.load_fashion_mnist(split) for split in FASHION_SIZES}
    for split, (x, y) in loaded.items():
        n = FASHION_SIZES[split]
        assert x.shape == (n, 1, 28, 28) and x.dtype == np.float32, split
        assert y.shape == (n,) and y.dtype == np.int64, split
        assert set(np.unique(y)) == set(range(10)), split
    # The training split is exactly the training images outside calibration
    # and validation, in their original order; those are never trained on.
    for split, mask in [("train", in_train), ("calib", held_out["calib"]),
                        ("val", held_out["val"])]:
        x, y = loaded[split]
        np.testing.assert_array_equal(x, data.normalize_fashion(raw_images[mask]))
        np.testing.assert_array_equal(y, raw_labels[mask])


def _write_idx(path, magic, dims, body):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">I", magic))
        f.write(struct.pack(">" + "I" * len(dims), *dims))
        f.write(body)


def _fake_fashion(folder, images=None, labels=None):
    """A tiny IDX data set of 3 test images; ``images``/``labels`` override
    (magic, dims, body) of either file."""
    images = images or (0x803, (3, 28, 28), bytes(3 * 28 * 28))
    labels = labels or (0x801, (3,), bytes([0, 1, 2]))
    _write_idx(os.path.join(folder, "t10k-images-idx3-ubyte.gz"), *images)
    _write_idx(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"), *labels)


def test_fashion_loader_reads_valid_idx(tmp_path, monkeypatch):
    monkeypatch.setenv("QUANTX_FASHION_MNIST_DIR", str(tmp_path))
    _fake_fashion(tmp_path)
    x, y = data.load_fashion_mnist("test")
    assert x.shape == (3, 1, 28, 28)
    np.testing.assert_array_equal(y, [0, 1, 2])


@pytest.mark.parametrize("images,labels,message", [
    ((0x801, (3, 28, 28), bytes(3 * 784)), None, "bad IDX magic"),
    ((0x803, (3, 28, 28), bytes(3 * 784 - 1)), None, "expected 2352 bytes"),
    (None, (0x801, (4,), bytes(4)), "counts differ"),
])
def test_fashion_loader_rejects_corrupt_files(tmp_path, monkeypatch, images, labels,
                                              message):
    monkeypatch.setenv("QUANTX_FASHION_MNIST_DIR", str(tmp_path))
    _fake_fashion(tmp_path, images, labels)
    with pytest.raises(ValueError, match=message):
        data.load_fashion_mnist("test")


def test_fashion_loader_rejects_truncated_header(tmp_path, monkeypatch):
    monkeypatch.setenv("QUANTX_FASHION_MNIST_DIR", str(tmp_path))
    _fake_fashion(tmp_path)
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 0x803, 3))
    with pytest.raises(ValueError, match="truncated IDX header"):
        data.load_fashion_mnist("test")


def test_fashion_loader_missing_data_and_bad_split(tmp_path, monkeypatch):
    monkeypatch.setenv("QUANTX_FASHION_MNIST_DIR", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        data.load_fashion_mnist("test")
    with pytest.raises(ValueError, match="unknown Fashion-MNIST split"):
        data.load_fashion_mnist("validation")


# ----------------------------------------------------------------------------
# Jane Austen splits and tokenizer
# ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def austen():
    if not HAVE_AUSTEN:
        pytest.skip("Jane Austen's novels absent: install r-cran-janeaustenr")
    return {s: data.load_austen(s) for s in ("train", "calib", "test")}


def test_austen_splits_disjoint_and_sized(austen):
    for split, n in AUSTEN_SIZES.items():
        assert len(austen[split]) == n, split
    five = [data.austen_book(b) for b in data.AUSTEN_BOOKS if b != "Persuasion"]
    assert austen["train"] + austen["calib"] == "\n\n".join(five)
    assert austen["test"] == data.austen_book("Persuasion")
    assert austen["test"].startswith("Persuasion")
    # No passage of the held-out novel appears in the training text.
    test = austen["test"]
    for start in range(10000, len(test) - 200, len(test) // 10):
        assert test[start:start + 200] not in austen["train"]


def test_austen_bad_names():
    with pytest.raises(ValueError, match="unknown novel"):
        data.austen_book("Lady Susan")
    with pytest.raises(ValueError, match="unknown Jane Austen split"):
        data.load_austen("validation")


def test_tokenizer_round_trips(austen):
    tok = CharTokenizer.from_text(austen["train"])
    for split in ("train", "calib", "test"):
        text = austen[split]
        ids = tok.encode(text)
        assert tok.UNK not in ids, split
        assert tok.decode(ids) == text, split
    again = CharTokenizer.from_json(tok.to_json())
    assert again.tokens == tok.tokens
    assert tok.tokens[:3] == ["<unk>", "<s>", "</s>"]
    # Characters never seen in training map to <unk>, which decodes to nothing.
    assert tok.encode("a\u00e9b") == [tok.encode("a")[0], tok.UNK, tok.encode("b")[0]]
    assert tok.decode(tok.encode("a\u00e9b")) == "ab"


def test_committed_tokenizer_is_the_training_texts(austen):
    _, tok = data.load("charlm")
    assert tok.tokens == CharTokenizer.from_text(austen["train"]).tokens


# ----------------------------------------------------------------------------
# Weights and metrics
# ----------------------------------------------------------------------------

def test_weights_are_fp16_and_small():
    total = 0
    for name in data.MODELS:
        path = data.weights_path(name)
        total += os.path.getsize(path)
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["__meta__"]))
            assert meta["model"] == name
            for key in z.files:
                if key != "__meta__" and z[key].dtype.kind == "f":
                    assert z[key].dtype == np.float16, key
    assert total < 8 * 1024 * 1024


def test_load_rejects_unknown_and_missing(tmp_path):
    with pytest.raises(ValueError, match="unknown model"):
        data.load("resnet")
    with pytest.raises(FileNotFoundError, match="train_models.py"):
        data.load("fashion_mlp", str(tmp_path / "absent.npz"))


def test_save_load_weights_round_trip(tmp_path):
    torch.manual_seed(0)
    model = FashionMLP()
    path = str(tmp_path / "m.npz")
    data.save_weights(model, path, {"model": "fashion_mlp", "x": 1})
    state, meta = data.load_weights(path)
    assert meta == {"model": "fashion_mlp", "x": 1}
    for key, value in model.state_dict().items():
        expected = value.numpy().astype(np.float16).astype(np.float32)
        np.testing.assert_array_equal(state[key].numpy(), expected)
    assert os.listdir(tmp_path) == ["m.npz"]


def test_parameter_counts(metrics):
    assert sum(p.numel() for p in FashionCNN().parameters()) == 207018
    assert sum(p.numel() for p in FashionMLP().parameters()) == 235146
    model, _ = data.load("charlm")
    assert sum(p.numel() for p in model.parameters()) == metrics["charlm"]["parameters"]
    cfg = model.config
    assert cfg.dim % 256 == 0 and cfg.ffn_dim % 256 == 0


@needs_fashion
@pytest.mark.parametrize("name", ["fashion_cnn", "fashion_mlp"])
def test_fashion_accuracy_matches_recorded(name, metrics):
    model = data.load(name)
    assert not model.training
    x, y = data.load_fashion_mnist("test")
    correct, count = evaluate.accuracy(model, x, y)
    assert count == 10000
    assert correct == metrics[name]["test_correct"]
    assert correct / count == metrics[name]["test_accuracy"]


def test_windows_and_perplexity_definition():
    wins = evaluate.windows(list(range(513)), 256)
    assert [len(w) for w in wins] == [256, 256]
    assert [len(w) for w in evaluate.windows(list(range(514)), 256)] == [256, 256, 2]

    class Uniform(torch.nn.Module):
        config = LlamaConfig(vocab_size=10, max_seq_len=8)

        def forward(self, tokens):
            return torch.zeros(tokens.shape[0], tokens.shape[1], 10)

    tok = CharTokenizer("abcdefg")
    total, count = evaluate.nll_sum(Uniform(), tok, "abcdefgabcdefgabcdefg")  # 21 chars
    assert count == 7 + 7 + 4
    assert math.isclose(total, count * math.log(10), rel_tol=1e-12)
    assert math.isclose(evaluate.perplexity(Uniform(), tok, "abc"), 10.0, rel_tol=1e-12)
    with pytest.raises(ValueError, match="too short"):
        evaluate.perplexity(Uniform(), tok, "a")


def test_charlm_quick_perplexity_matches_recorded(austen, metrics):
    model, tok = data.load("charlm")
    quick = austen["test"][:evaluate.PERSUASION_QUICK_CHARS]
    assert metrics["charlm"]["persuasion_quick_chars"] == evaluate.PERSUASION_QUICK_CHARS
    ppl = evaluate.perplexity(model, tok, quick)
    assert math.isclose(ppl, metrics["charlm"]["persuasion_quick_perplexity"],
                        rel_tol=1e-4)


def test_charlm_matches_transformers_llama(austen):
    transformers = pytest.importorskip(
        "transformers", reason="transformers not installed: cannot compare with "
                               "LlamaForCausalLM (pip install -r python/requirements-dev.txt)")
    model, tok = data.load("charlm")
    cfg = model.config
    hf_cfg = transformers.LlamaConfig(
        vocab_size=cfg.vocab_size, hidden_size=cfg.dim,
        intermediate_size=cfg.ffn_dim, num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads, num_key_value_heads=cfg.n_heads,
        max_position_embeddings=cfg.max_seq_len, rms_norm_eps=cfg.norm_eps,
        rope_theta=cfg.rope_theta, hidden_act="silu", tie_word_embeddings=False,
        attention_bias=False, mlp_bias=False, attn_implementation="eager",
        bos_token_id=tok.BOS, eos_token_id=tok.EOS, pad_token_id=None)
    hf = transformers.LlamaForCausalLM(hf_cfg).eval()
    state = {("lm_head." + k[len("lm_head."):]) if k.startswith("lm_head.")
             else "model." + k: v for k, v in model.state_dict().items()}
    missing, unexpected = hf.load_state_dict(state, strict=False)
    assert not unexpected and all("rotary_emb" in k for k in missing), (missing, unexpected)

    text = austen["test"][5000:5000 + 2 * cfg.max_seq_len]
    tokens = torch.tensor([tok.encode(text[:cfg.max_seq_len]),
                           tok.encode(text[cfg.max_seq_len:])], dtype=torch.int64)
    with torch.no_grad():
        ours = model(tokens)
        theirs = hf(input_ids=tokens).logits
    assert ours.shape == theirs.shape == (2, cfg.max_seq_len, cfg.vocab_size)
    err = (ours - theirs).abs().max().item()
    scale = theirs.abs().max().item()
    assert err <= 1e-5 * scale, (err, scale)
    print(f"max |logit difference| {err:.3g}, max |logit| {scale:.3g}")
    # A shorter sequence sees the same prefix logits (causal mask, RoPE offsets).
    with torch.no_grad():
        short = model(tokens[:, :17])
    torch.testing.assert_close(short, ours[:, :17], rtol=1e-5, atol=1e-5 * scale)


# ----------------------------------------------------------------------------
# The training script's command line
# ----------------------------------------------------------------------------

TRAIN_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                            "scripts", "train_models.py")


@pytest.mark.parametrize("args,message", [
    (["resnet"], "unknown model 'resnet'"),
    (["charlm", "--steps", "0"], "--steps must be positive"),
    (["fashion_mlp", "--epochs", "-1"], "--epochs must be positive"),
    (["fashion_mlp", "--output", "/nonexistent/quantx-models"], "does not exist"),
])
def test_train_script_rejects_bad_arguments(args, message, tmp_path):
    import subprocess
    import sys
    r = subprocess.run([sys.executable, TRAIN_SCRIPT] + args, capture_output=True,
                       text=True, cwd=tmp_path)
    assert r.returncode == 2
    assert message in r.stderr
    assert os.listdir(tmp_path) == []


def test_docs_state_the_recorded_metrics(metrics):
    doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                       "Models.md")
    if not os.path.exists(doc):
        pytest.skip("docs/Models.md not found next to the tests")
    with open(doc, encoding="utf-8") as f:
        text = " ".join(f.read().split())
    for name in ("fashion_cnn", "fashion_mlp"):
        m = metrics[name]
        assert f"`{name}` {m['test_correct']} / {m['test_count']}" in text, name
        assert f"**{100 * m['test_accuracy']:.2f} %**" in text, name
    lm = metrics["charlm"]
    assert f"perplexity {lm['persuasion_perplexity']:.5f}" in text
    assert f"and {lm['persuasion_quick_perplexity']:.5f} on its first" in text
    assert f"{lm['persuasion_predictions']:,} predictions" in text
    assert f"{lm['parameters']:,}" in text
