"""The float metrics of the example models, defined once so that training,
tests and later quantization experiments measure the same thing.

* :func:`accuracy` - top-1 accuracy of a Fashion-MNIST classifier.
* :func:`perplexity` - per-character perplexity of the language model on a
  text: the text is encoded and cut into consecutive, non-overlapping windows
  of ``max_seq_len`` tokens (the last window may be shorter; one of a single
  token is dropped). Within a window every token after the first is predicted
  from the tokens before it in that window, so a window of ``n`` tokens gives
  ``n - 1`` predictions. The perplexity is ``exp`` of the mean negative
  log-likelihood (natural log) over all predictions of all windows.
"""

import math

import numpy as np

PERSUASION_QUICK_CHARS = 32768
"""Length of the quick perplexity subset: the first this many characters of
"Persuasion" (128 windows of 256 tokens)."""


def predict_logits(model, images, batch_size=1000):
    """Logits [N, 10] (float32 numpy) of a classifier on images [N, 1, 28, 28]."""
    import torch
    out = []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            x = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size]))
            out.append(model(x).numpy())
    return np.concatenate(out, axis=0)


def accuracy(model, images, labels, batch_size=1000):
    """(correct, total): how many argmax predictions equal ``labels``."""
    logits = predict_logits(model, images, batch_size)
    correct = int((logits.argmax(axis=1) == np.asarray(labels)).sum())
    return correct, int(labels.shape[0])


def windows(ids, window):
    """Consecutive non-overlapping windows of ``window`` tokens (the last may
    be shorter; windows of fewer than two tokens are dropped)."""
    out = [ids[i:i + window] for i in range(0, len(ids), window)]
    return [w for w in out if len(w) >= 2]


def nll_sum(model, tokenizer, text, batch_size=16):
    """(sum of negative log-likelihoods in nats, number of predictions) of
    ``text`` as :func:`perplexity` defines them."""
    import torch
    if not isinstance(text, str):
        raise TypeError("text must be a str")
    ids = tokenizer.encode(text)
    wins = windows(ids, model.config.max_seq_len)
    if not wins:
        raise ValueError("text too short: need at least two characters")
    total = 0.0
    count = 0
    with torch.no_grad():
        # Windows of equal length are batched together (only the last differs).
        full = [w for w in wins if len(w) == len(wins[0])]
        rest = wins[len(full):]
        groups = [full[i:i + batch_size] for i in range(0, len(full), batch_size)]
        groups += [[w] for w in rest]
        for group in groups:
            x = torch.tensor(group, dtype=torch.int64)
            logits = model(x[:, :-1])
            logp = torch.log_softmax(logits.double(), dim=-1)
            nll = -logp.gather(-1, x[:, 1:, None]).squeeze(-1)
            total += float(nll.sum())
            count += int(nll.numel())
    return total, count


def perplexity(model, tokenizer, text, batch_size=16):
    """Per-character perplexity of ``text`` (see the module documentation)."""
    total, count = nll_sum(model, tokenizer, text, batch_size)
    return math.exp(total / count)
