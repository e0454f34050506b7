"""What counting models score on the same test text: a unigram model and an interpolated Kneser–Ney n-gram
model over characters, both fitted on the training text only.

Kneser–Ney (Chen & Goodman 1999, interpolated, one absolute discount per order): at the highest order the
counts are the raw counts c(h w); at lower orders the continuation counts N1+(• h w), the number of
distinct characters seen before h w, so that a character frequent only after one context is not frequent
in general. With C_k the counts of order k and D_k = n1 / (n1 + 2 n2) (n1, n2: k-grams counted once,
twice):

    P_k(w | h) = max(C_k(h w) - D_k, 0) / C_k(h •) + D_k |{w: C_k(h w) > 0}| / C_k(h •) · P_{k-1}(w | h')

with h' the history without its first character, P_0 uniform over the vocabulary, and P_k = P_{k-1}
for a history never seen in training. n-grams are integers in base V, counted with numpy.
"""

from __future__ import annotations

import math

import numpy as np

from rnnlab.errors import UserError


def gram_codes(ids: np.ndarray, k: int, vocab_size: int) -> np.ndarray:
    """The k-gram starting at each position, as one base-`vocab_size` integer (k = 0: zeros)."""
    count = len(ids) - k + 1
    codes = np.zeros(max(count, 0), dtype=np.int64)
    for j in range(k):
        codes = codes * vocab_size + ids[j : j + count]
    return codes


def _lookup(keys: np.ndarray, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """values[keys == query] for each query (keys sorted), 0 where a query is not among the keys."""
    at = np.minimum(np.searchsorted(keys, queries), len(keys) - 1)
    found = keys[at] == queries if len(keys) else np.zeros(len(queries), dtype=bool)
    return np.where(found, values[at] if len(keys) else 0, 0)


class KneserNey:
    """An interpolated Kneser–Ney model of order `order` (the character and up to order - 1 before it)."""

    def __init__(self, train: np.ndarray, vocab_size: int, order: int) -> None:
        if math.log(vocab_size) * order >= math.log(2**62):
            raise UserError(f"a {order}-gram model over {vocab_size} characters is too large to count; "
                            "lower data.ngram_order")
        self.vocab_size, self.order = vocab_size, order
        self.levels = []
        for k in range(1, order + 1):
            if k == order:
                grams, counts = np.unique(gram_codes(train, k, vocab_size), return_counts=True)
            else:  # continuation counts: distinct characters seen before each k-gram
                grams, counts = np.unique(np.unique(gram_codes(train, k + 1, vocab_size)) % vocab_size**k,
                                          return_counts=True)
            histories, inverse = np.unique(grams // vocab_size, return_inverse=True)
            totals = np.bincount(inverse, weights=counts).astype(np.float64)
            types = np.bincount(inverse).astype(np.float64)
            once, twice = int((counts == 1).sum()), int((counts == 2).sum())
            discount = once / (once + 2 * twice) if once + 2 * twice else 0.5
            self.levels.append((grams, counts.astype(np.float64), histories, totals, types, discount))

    def probabilities(self, ids: np.ndarray) -> np.ndarray:
        """P(ids[i] | the up to order - 1 characters before it in `ids`), for every position i."""
        p = np.full(len(ids), 1.0 / self.vocab_size)
        for k, (grams, counts, histories, totals, types, discount) in enumerate(self.levels, start=1):
            if len(ids) < k:
                break
            codes = gram_codes(ids, k, self.vocab_size)  # the k-gram ending at position k - 1 + j
            count = _lookup(grams, counts, codes)
            total = _lookup(histories, totals, codes // self.vocab_size)
            kinds = _lookup(histories, types, codes // self.vocab_size)
            lower = p[k - 1 :]
            seen = total > 0
            safe = np.where(seen, total, 1.0)
            p[k - 1 :] = np.where(seen, (np.maximum(count - discount, 0) + discount * kinds * lower) / safe, lower)
        return p

    def loss(self, ids: np.ndarray) -> float:
        """Mean negative log-probability of `ids`, in nats per character."""
        return float(-np.log(self.probabilities(ids)).mean())


def unigram_loss(train: np.ndarray, test: np.ndarray, vocab_size: int) -> float:
    """Nats per character of `test` under the training text's character frequencies (add-one smoothed)."""
    counts = np.bincount(train, minlength=vocab_size).astype(np.float64) + 1.0
    return float(-np.log(counts[test] / counts.sum()).mean())
