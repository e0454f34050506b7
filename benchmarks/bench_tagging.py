"""Training sentences/s of a part-of-speech tagger: the runner (`python -m rnnlab experiment=pos_ewt`) against a
hand-written PyTorch loop with packed `nn.LSTM`s at the same shapes, side by side.

    python benchmarks/bench_tagging.py --treebank ../shared/data/ud_english_ewt [--batches 80 --rounds 3
        --threads 2]

Both tag the EWT training sentences in batches of 32 sentences of similar length (the runner's length buckets;
the loop sorts by length and cuts, as a user of `pack_padded_sequence` would), with word vectors of 100, a
character BiLSTM(50) per word, a 2-layer BiLSTM(200), dropout 0.33, a softmax per word, Adam 2e-3 and gradient
clipping at 1.0; both flush subnormal floats and leave out their first 3 steps. Each leg is a fresh process; the
legs alternate for `--rounds` rounds and the table gives each leg's median and the median of per-round ratios.
Has a change made the tagger faster or slower? `python benchmarks/before_after.py <before>/src src --tagging
<treebank>` runs this runner command from two source trees.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from legs import runner_against_loop

HERE = Path(__file__).resolve().parent
WARMUP = 3  # steps left out, as the runner's throughput_warmup_batches
BATCH = 32


def raw_loop(treebank: Path, batches: int, threads: int) -> float:
    """Sentences/s of a hand-written packed-sequence tagger (what a user would write from the PyTorch chapter)."""
    import random

    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

    from rnnlab.tasks.tagging.conll import read_conllu

    torch.set_flush_denormal(True)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    sentences = read_conllu(next(treebank.glob("*-train.conllu")), "upos")
    words = {w: i + 2 for i, w in enumerate(sorted({w for s in sentences for w in s.words}))}
    chars = {c: i + 2 for i, c in enumerate(sorted({c for s in sentences for w in s.words for c in w}))}
    tags = {t: i for i, t in enumerate(sorted({t for s in sentences for t in s.tags}))}
    ordered = sorted(sentences, key=lambda s: len(s.words))
    chunks = [ordered[i : i + BATCH] for i in range(0, len(ordered), BATCH)]
    random.Random(0).shuffle(chunks)

    class Tagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.words = nn.Embedding(len(words) + 2, 100, padding_idx=0)
            self.chars = nn.Embedding(len(chars) + 2, 32, padding_idx=0)
            self.char_rnn = nn.LSTM(32, 50, batch_first=True, bidirectional=True)
            self.rnn = nn.LSTM(200, 200, num_layers=2, batch_first=True, bidirectional=True, dropout=0.33)
            self.dropout = nn.Dropout(0.33)
            self.head = nn.Linear(400, len(tags))

        def forward(self, word_ids, char_ids, char_lengths, lengths):
            packed_chars = pack_padded_sequence(self.chars(char_ids), char_lengths, batch_first=True,
                                                enforce_sorted=False)
            _, (h, _) = self.char_rnn(packed_chars)
            per_word = torch.cat([h[0], h[1]], dim=-1)  # [words, 100], in the sentences' order
            spelled = pad_sequence(list(per_word.split(lengths.tolist())), batch_first=True)
            x = self.dropout(torch.cat([self.words(word_ids), spelled], dim=-1))
            out, _ = self.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
            out, _ = pad_packed_sequence(out, batch_first=True)
            return self.head(self.dropout(out))

    model = Tagger()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, fused=True)
    times = []
    for step in range(batches):
        chunk = chunks[step % len(chunks)]
        began = time.perf_counter()
        lengths = torch.tensor([len(s.words) for s in chunk])
        word_ids = pad_sequence([torch.tensor([words[w] for w in s.words]) for s in chunk], batch_first=True)
        spellings = [torch.tensor([chars[c] for c in w]) for s in chunk for w in s.words]
        char_ids = pad_sequence(spellings, batch_first=True)
        char_lengths = torch.tensor([len(w) for w in spellings])
        targets = pad_sequence([torch.tensor([tags[t] for t in s.tags]) for s in chunk], batch_first=True,
                               padding_value=-100)
        scores = model(word_ids, char_ids, char_lengths, lengths)
        loss = nn.functional.cross_entropy(scores.flatten(0, 1), targets.flatten(), ignore_index=-100)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        times.append(time.perf_counter() - began)
    return BATCH * (batches - WARMUP) / sum(times[WARMUP:])


def runner_command(treebank: Path, batches: int, threads: int) -> list[str]:
    """`python -m rnnlab experiment=pos_ewt` cut to `batches` training batches (without its run folder)."""
    return [sys.executable, "-m", "rnnlab", "experiment=pos_ewt", f"data.path={treebank}", "trainer.max_epochs=1",
            f"trainer.limit_train_batches={batches}", "trainer.limit_val_batches=1", "trainer.limit_test_batches=1",
            "trainer.num_sanity_val_steps=0", f"trainer.num_threads={threads}", "logger=none",
            "callbacks.progress_bar=none", "print_config=false", f"callbacks.throughput_warmup_batches={WARMUP}"]


def runner(treebank: Path, batches: int, threads: int) -> float:
    """Sentences/s of the runner command above."""
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-") as folder:
        done = subprocess.run([*runner_command(treebank, batches, threads), f"hydra.run.dir={folder}"],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        return json.loads((Path(folder) / "metrics.json").read_text())["train_samples_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--treebank", type=Path, default=HERE.parent.parent / "shared" / "data" / "ud_english_ewt")
    parser.add_argument("--batches", type=int, default=80)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--leg", choices=("raw",), help=argparse.SUPPRESS)  # internal: run one raw leg
    args = parser.parse_args()
    if args.leg == "raw":
        print(json.dumps({"rate": raw_loop(args.treebank.resolve(), args.batches, args.threads)}))
        return
    if not args.treebank.is_dir():
        sys.exit(f"no treebank at {args.treebank}; give --treebank <a folder holding *-train.conllu>")
    treebank = args.treebank.resolve()
    measured = runner_against_loop(lambda: runner(treebank, args.batches, args.threads), __file__, args.rounds)
    print(f"| pos_ewt tagger, batches of {BATCH}, {args.threads} threads (packed nn.LSTM loop) | {measured} |")

if __name__ == "__main__":
    main()
