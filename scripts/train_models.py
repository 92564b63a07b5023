#!/usr/bin/env python3
"""Trains the example models on their fixed training splits and records their
float metrics.

Writes python/quantx/models/data/{fashion_cnn,fashion_mlp,charlm}.npz (fp16
weights plus JSON metadata) and updates python/quantx/models/data/metrics.json
with metrics measured after reloading the saved weights:

* fashion_cnn, fashion_mlp: top-1 accuracy on the 10,000 Fashion-MNIST test
  images;
* charlm: per-character perplexity on the held-out novel "Persuasion" (whole
  text, and its first 32,768 characters, the quick subset the tests use); see
  quantx/models/evaluate.py for the exact definition.

Runs on the CPU with two threads and fixed seeds. Run it with the build tree
on the path:

    PYTHONPATH=build/python_packages nice .venv/bin/python scripts/train_models.py
"""

import argparse
import json
import math
import os
import sys
import time


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.path.join(ROOT, "python", "quantx", "models", "data")

DEFAULTS = {
    "fashion_cnn": {"epochs": 3, "batch_size": 128, "lr": 2e-3, "weight_decay": 1e-4},
    "fashion_mlp": {"epochs": 10, "batch_size": 128, "lr": 1e-3, "weight_decay": 1e-4},
    "charlm": {"steps": 350, "batch_size": 8, "lr": 3e-3, "weight_decay": 0.1,
               "warmup": 30, "min_lr_ratio": 0.1, "grad_clip": 1.0, "init_std": 0.02},
}


def log(msg):
    print(msg, flush=True)


def cosine_lr(step, total, base, warmup=0, min_ratio=0.0):
    """Linear warm-up for ``warmup`` steps, then cosine decay to
    ``min_ratio * base`` at ``total``."""
    if step < warmup:
        return base * (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return base * (min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * p)))


def train_fashion(name, args, settings):
    import torch
    from quantx.models import data, evaluate
    from quantx.models.fashion import FashionCNN, FashionMLP

    torch.manual_seed(args.seed)
    model = FashionCNN() if name == "fashion_cnn" else FashionMLP()
    x_train, y_train = data.load_fashion_mnist("train")
    x_train = torch.from_numpy(x_train)
    y_train = torch.from_numpy(y_train)
    n = x_train.shape[0]
    bs = settings["batch_size"]
    steps_per_epoch = (n + bs - 1) // bs
    total = settings["epochs"] * steps_per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=settings["lr"],
                            weight_decay=settings["weight_decay"])
    gen = torch.Generator().manual_seed(args.seed)
    step = 0
    t0 = time.time()
    for epoch in range(settings["epochs"]):
        model.train()
        perm = torch.randperm(n, generator=gen)
        running, seen, correct = 0.0, 0, 0
        for i in range(steps_per_epoch):
            idx = perm[i * bs:(i + 1) * bs]
            xb, yb = x_train[idx], y_train[idx]
            for g in opt.param_groups:
                g["lr"] = cosine_lr(step, total, settings["lr"])
            logits = model(xb)
            loss = torch.nn.functional.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            running += float(loss) * xb.shape[0]
            seen += xb.shape[0]
            correct += int((logits.argmax(1) == yb).sum())
        log(f"  {name} epoch {epoch + 1}/{settings['epochs']}: "
            f"loss {running / seen:.4f}, train acc {correct / seen:.4f}, "
            f"{time.time() - t0:.0f}s")
    train_s = time.time() - t0
    model.eval()
    path = os.path.join(args.output, f"{name}.npz")
    meta = {"model": name, "seed": args.seed, "training": settings,
            "train_split": "train", "train_seconds": round(train_s, 1)}
    data.save_weights(model, path, meta)

    # Metrics of the weights as saved (fp16, widened back to fp32).
    reloaded = data.load(name, path)
    x_test, y_test = data.load_fashion_mnist("test")
    correct, count = evaluate.accuracy(reloaded, x_test, y_test)
    result = {"test_accuracy": correct / count, "test_correct": correct,
              "test_count": count, "train_seconds": round(train_s, 1)}
    log(f"  {name}: test accuracy {correct}/{count} = {correct / count:.4f} "
        f"(fp16 weights), {os.path.getsize(path)} bytes")
    return result


def init_llama(model, std):
    """Normal(0, std) linear and embedding weights, ones for RMSNorm (the
    initialisation of Hugging Face's Llama)."""
    import torch
    for name, p in model.named_parameters():
        if p.dim() == 2:
            torch.nn.init.normal_(p, mean=0.0, std=std)
        else:
            torch.nn.init.ones_(p)


def train_charlm(args, settings):
    import torch
    from quantx.models import data, evaluate
    from quantx.models.charlm import CharLlama, CharTokenizer, LlamaConfig

    torch.manual_seed(args.seed)
    text = data.load_austen("train")
    tok = CharTokenizer.from_text(text)
    cfg = LlamaConfig(vocab_size=len(tok))
    model = CharLlama(cfg)
    init_llama(model, settings["init_std"])
    ids = torch.tensor(tok.encode(text), dtype=torch.int64)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"  charlm: {n_params} parameters, vocabulary {len(tok)}, "
        f"{ids.numel()} training characters")

    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings["weight_decay"]},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=settings["lr"], betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(args.seed)
    seq = cfg.max_seq_len
    bs = settings["batch_size"]
    total = settings["steps"]
    offsets = torch.arange(seq + 1)
    t0 = time.time()
    model.train()
    smooth = None
    for step in range(total):
        starts = torch.randint(0, ids.numel() - seq - 1, (bs,), generator=gen)
        batch = ids[starts[:, None] + offsets]
        lr = cosine_lr(step, total, settings["lr"], settings["warmup"],
                       settings["min_lr_ratio"])
        for g in opt.param_groups:
            g["lr"] = lr
        logits = model(batch[:, :-1])
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, cfg.vocab_size), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings["grad_clip"])
        opt.step()
        smooth = float(loss) if smooth is None else 0.95 * smooth + 0.05 * float(loss)
        if (step + 1) % 25 == 0 or step + 1 == total:
            el = time.time() - t0
            log(f"  charlm step {step + 1}/{total}: loss {smooth:.4f} "
                f"(ppl {math.exp(smooth):.2f}), lr {lr:.2e}, {el:.0f}s, "
                f"~{el / (step + 1) * (total - step - 1):.0f}s left")
    train_s = time.time() - t0
    model.eval()
    path = os.path.join(args.output, "charlm.npz")
    meta = {"model": "charlm", "seed": args.seed, "training": settings,
            "train_split": "train", "train_seconds": round(train_s, 1),
            "config": cfg.to_json(), "tokenizer": tok.to_json()}
    data.save_weights(model, path, meta)

    reloaded, rtok = data.load("charlm", path)
    test = data.load_austen("test")
    quick = test[:evaluate.PERSUASION_QUICK_CHARS]
    t1 = time.time()
    q_nll, q_count = evaluate.nll_sum(reloaded, rtok, quick)
    nll, count = evaluate.nll_sum(reloaded, rtok, test)
    result = {
        "persuasion_perplexity": math.exp(nll / count),
        "persuasion_predictions": count,
        "persuasion_quick_perplexity": math.exp(q_nll / q_count),
        "persuasion_quick_chars": evaluate.PERSUASION_QUICK_CHARS,
        "persuasion_quick_predictions": q_count,
        "parameters": n_params,
        "train_seconds": round(train_s, 1),
    }
    log(f"  charlm: Persuasion perplexity {result['persuasion_perplexity']:.4f} "
        f"({count} predictions), quick subset {result['persuasion_quick_perplexity']:.4f}, "
        f"eval {time.time() - t1:.0f}s, {os.path.getsize(path)} bytes")
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help=f"models to train (default: all of {', '.join(DEFAULTS)})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--epochs", type=int, help="epochs of the Fashion-MNIST models")
    p.add_argument("--steps", type=int, help="optimizer steps of the language model")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--output", default=DATA_DIR,
                   help="folder for the weights and metrics.json "
                        "(default: the package's data folder)")
    args = p.parse_args(argv)
    for m in args.models:
        if m not in DEFAULTS:
            p.error(f"unknown model {m!r}; choose from {', '.join(DEFAULTS)}")
    if args.epochs is not None and args.epochs < 1:
        p.error("--epochs must be positive")
    if args.steps is not None and args.steps < 1:
        p.error("--steps must be positive")
    models = args.models or list(DEFAULTS)
    if not os.path.isdir(args.output):
        p.error(f"output folder {args.output!r} does not exist")
    metrics_path = os.path.join(args.output, "metrics.json")

    # Passive OpenMP waiting: far faster than spinning on a shared machine.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    metrics = {}
    if os.path.exists(metrics_path):
        with open(metrics_path, encoding="utf-8") as f:
            metrics = json.load(f)
    for name in models:
        settings = dict(DEFAULTS[name])
        if name == "charlm":
            if args.steps is not None:
                settings["steps"] = args.steps
        elif args.epochs is not None:
            settings["epochs"] = args.epochs
        log(f"training {name}: {json.dumps(settings, sort_keys=True)}, seed {args.seed}")
        if name == "charlm":
            result = train_charlm(args, settings)
        else:
            result = train_fashion(name, args, settings)
        result["seed"] = args.seed
        result["training"] = settings
        metrics[name] = result
        tmp = metrics_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(metrics, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, metrics_path)
    log(f"wrote {metrics_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
