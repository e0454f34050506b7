"""Character-level language modelling: the text a user trains on, the counting baselines, stateful training,
generation, and the mistakes a user can make."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import compose_config, run_in_process
from rnnlab.data.archive import sha256_file
from rnnlab.errors import UserError
from rnnlab.models.config import ModelConfig
from rnnlab.run.config import to_config  # noqa: F401 (the config path is what users hit)
from rnnlab.run.generate import main as generate_main
from rnnlab.run.predict import load_checkpoint, load_task
from rnnlab.tasks.chars.corpus import build_corpus, locate_text, read_text
from rnnlab.tasks.chars.data import CharsData, CharsSpec
from rnnlab.tasks.chars.ngram import KneserNey, unigram_loss
from rnnlab.tasks.chars.schema import CharsDataConfig
from rnnlab.tasks.chars.task import CharLanguageModel
from rnnlab.tasks.optimizer import OptimizerConfig

PATTERN = "the cat sat on the mat. the dog sat on the log. " * 120  # 5,880 characters that repeat
TINY = ("data=chars", "data.batch_size=4", "data.bptt=32", "data.eval_batch_size=2", "data.sample_length=20",
        "data.ngram_order=3", "model.hidden_size=32", "trainer.num_threads=1", "logger=none")


def text_file(tmp_path: Path, text: str = PATTERN, name: str = "corpus.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_kneser_ney_gives_the_hand_computed_probabilities():
    # train "abab" (a=0, b=1), order 2. Bigrams ab x2, ba x1: discount 1 / (1 + 2 * 1) = 1/3. Continuation
    # counts a 1 (after b), b 1 (after a): discount 2 / 2 = 1, so P1 is uniform, 1/2.
    # P(b | a) = (2 - 1/3) / 2 + (1/3) * 1 / 2 * P1(b) = 5/6 + 1/12 = 11/12.
    model = KneserNey(np.array([0, 1, 0, 1]), vocab_size=2, order=2)
    assert model.probabilities(np.array([0, 1])) == pytest.approx([1 / 2, 11 / 12])
    # train "abcb", vocabulary a, b, c, order 2. Continuation counts b 2 (after a, c), c 1, a 0: discount
    # 1 / (1 + 2) = 1/3 over a total of 3 in 2 kinds, so P1(a) = 0 + (1/3)(2/3)(1/3) = 2/27,
    # P1(b) = (2 - 1/3) / 3 + 2/27 = 17/27, P1(c) = (1 - 1/3) / 3 + 2/27 = 8/27. Bigrams ab, bc, cb once
    # each: discount 1, so P(w | h) = P1(w) for every seen history.
    model = KneserNey(np.array([0, 1, 2, 1]), vocab_size=3, order=2)
    assert model.probabilities(np.array([0, 1, 2, 1])) == pytest.approx([2 / 27, 17 / 27, 8 / 27, 17 / 27])
    assert model.loss(np.array([0, 1])) == pytest.approx(-(math.log(2 / 27) + math.log(17 / 27)) / 2)


def test_kneser_ney_probabilities_of_every_next_character_sum_to_one():
    text = np.array([ord(c) - ord("a") for c in "abracadabra" * 3 + "cab"])
    model = KneserNey(text, vocab_size=26, order=3)
    for history in ("ab", "zz", "ca", "rc"):
        context = np.array([ord(c) - ord("a") for c in history])
        total = sum(model.probabilities(np.append(context, w))[-1] for w in range(26))
        assert total == pytest.approx(1.0)


def test_unigram_loss_is_the_add_one_frequency_of_the_training_text():
    # counts a 3 + 1, b 1 + 1, c 0 + 1 out of 4 + 3
    assert unigram_loss(np.array([0, 0, 0, 1]), np.array([0, 2]), 3) == pytest.approx(
        -(math.log(4 / 7) + math.log(1 / 7)) / 2)


def test_the_text_is_split_by_position_with_the_test_part_last():
    corpus = build_corpus("abcdefghijklmnopqrst", val_fraction=0.05, test_fraction=0.10)
    decoded = {name: "".join(corpus.chars[i] for i in ids) for name, ids in corpus.splits.items()}
    assert decoded == {"train": "abcdefghijklmnopq", "val": "r", "test": "st"}


def test_stateful_batches_are_contiguous_streams(tmp_path):
    cfg = CharsDataConfig(path=str(text_file(tmp_path)), batch_size=3, bptt=10, eval_batch_size=2)
    data = CharsData(cfg, seed=0)
    data.setup()
    train = data.corpus.splits["train"]
    batches = list(data.train_dataloader())
    stream_length = (len(train) - 1) // 3
    streams = torch.cat([inputs for inputs, _ in batches], dim=1)
    assert streams.shape == (3, stream_length)
    for b in range(3):  # each stream is a contiguous piece of the text, continued window after window
        assert streams[b].tolist() == train[b * stream_length : (b + 1) * stream_length].tolist()
    for inputs, targets in batches:  # each target is the next character
        assert torch.equal(inputs[:, 1:], targets[:, :-1])


def tiny_model(spec: CharsSpec, cell: str) -> CharLanguageModel:
    torch.manual_seed(0)
    return CharLanguageModel(ModelConfig(cell=cell, hidden_size=16, num_layers=2), OptimizerConfig(), spec).eval()


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_the_state_carried_across_windows_continues_the_text_exactly(cell):
    spec = CharsSpec(chars=list("abcdefgh"), embedding_dim=8)
    model = tiny_model(spec, cell)
    text = torch.randint(0, 8, (3, 40))
    whole, _ = model(text)
    first, state = model(text[:, :25])
    second, _ = model(text[:, 25:], state)
    cold, _ = model(text[:, 25:])
    assert torch.allclose(torch.cat([first, second], dim=1), whole, atol=1e-5)
    assert not torch.allclose(second, cold, atol=1e-3)  # the carried state is used


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    root = tmp_path_factory.mktemp("chars")
    results, run_dir = run_in_process(root, *TINY, f"data.path={text_file(root)}", "trainer.max_epochs=6",
                                      "callbacks.early_stopping=false")
    return results, run_dir


def test_a_repeating_text_is_learned_far_below_the_unigram_baseline(learned):
    results, run_dir = learned
    metrics = results["metrics"]
    assert metrics["test/loss"] < 0.5 * metrics["test/unigram_loss"]
    assert metrics["test/bpc"] == pytest.approx(metrics["test/loss"] / math.log(2))
    assert metrics["test/ppl"] == pytest.approx(math.exp(metrics["test/loss"]), rel=1e-5)
    assert "test/3gram_loss" in metrics and results["report"]["verdict"].startswith("the model (")
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["task"] == "chars" and (run_dir / "sample.txt").read_text().startswith("t")
    assert sorted(path.name for path in (run_dir / "samples").iterdir())[:2] == ["epoch_000.txt", "epoch_001.txt"]


def test_generation_is_seeded_and_honours_its_length(learned, capsys):
    checkpoint = learned[1] / "checkpoints" / "best.ckpt"
    runs = []
    for seed in ("1", "1", "2"):
        generate_main([f"ckpt={checkpoint}", "prompt=the cat", "length=40", "temperature=0.8", f"seed={seed}"])
        runs.append(capsys.readouterr().out[:-1])  # print's newline
    assert runs[0] == runs[1] and runs[0] != runs[2]
    assert all(len(text) == len("the cat") + 40 and text.startswith("the cat") for text in runs)
    generate_main([f"ckpt={checkpoint}", "prompt=the dog sat on the l", "length=4", "greedy=true"])
    assert capsys.readouterr().out.startswith("the dog sat on the log. ")  # the pattern, learned


@pytest.mark.parametrize("arguments, message", [
    (["prompt=QZ!"], "the prompt has characters the model never saw: '!', 'Q', 'Z'; use only these"),
    (["prompt=the", "length=0"], "length=0 is not valid"),
    (["prompt=the", "temperature=0"], "temperature=0.0 is not valid; use a value > 0"),
    (["prompt=the", "top_k=x"], "top_k='x' is not a int"),
    (["prompt="], "the prompt is empty"),
])
def test_bad_generation_arguments_are_one_line_errors(learned, capsys, arguments, message):
    with pytest.raises(SystemExit) as exit_code:
        generate_main([f"ckpt={learned[1] / 'checkpoints' / 'best.ckpt'}", *arguments])
    error = capsys.readouterr().err
    assert exit_code.value.code == 2 and error.startswith("rnnlab: error: ") and message in error
    assert error.count("\n") == 1


def test_generate_refuses_a_checkpoint_of_another_task(tmp_path, capsys):
    _, run_dir = run_in_process(tmp_path, "data.length=300", "trainer.max_epochs=1", "model.hidden_size=8",
                                "trainer.num_threads=1", "logger=none")
    capsys.readouterr()
    with pytest.raises(SystemExit):
        generate_main([f"ckpt={run_dir / 'checkpoints' / 'best.ckpt'}", "prompt=a"])
    assert capsys.readouterr().err.strip() == ("rnnlab: error: this checkpoint is a forecast model, which does not "
                                               "generate text; rnnlab.generate takes chars models (data=chars runs)")


def test_the_checkpoint_carries_the_characters(learned):
    module = load_task(load_checkpoint(learned[1] / "checkpoints" / "best.ckpt"))
    assert module.spec.chars == sorted(set(PATTERN))


@pytest.mark.parametrize("content, message", [
    (b"", "is empty; give a text file"),
    ("caf\u00e9 ".encode("latin-1") * 3, "is not UTF-8 text: byte 3 (0xe9) cannot be decoded"),
    (b"text\x00\x01binary", "holds NUL bytes (first at character 4): it is binary"),
])
def test_unreadable_texts_are_refused_with_the_reason(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_text(path)


def test_a_text_shorter_than_one_batch_of_windows_says_what_to_change(tmp_path):
    cfg = CharsDataConfig(path=str(text_file(tmp_path, "short text " * 20)), batch_size=64, bptt=128)
    with pytest.raises(UserError, match="fewer than one window of data.bptt=128 for each of data.batch_size=64"):
        CharsData(cfg, seed=0).setup()


def test_bidirectional_and_pooling_encoders_are_refused_at_config_time(tmp_path):
    for override, message in (("model=bilstm", "a bidirectional encoder would read the characters it must"),
                              ("model=attention", "attention over a whole window")):
        with pytest.raises(UserError, match=message):
            compose_config(tmp_path, "data=chars", override)


def test_the_text_is_found_in_the_cache_or_downloaded_with_its_checksum(tmp_path):
    source = text_file(tmp_path, name="input.txt")
    cache = tmp_path / "cache"
    cfg = CharsDataConfig(cache_dir=str(cache), url=source.as_uri(), sha256=sha256_file(source))
    found = locate_text(cfg)
    assert found == cache / "tinyshakespeare.txt" and found.read_text() == PATTERN
    source.unlink()
    assert locate_text(cfg) == found  # the cached copy, no download
    with pytest.raises(UserError, match="no text found locally and .*checksum|no text found locally and .*SHA"):
        locate_text(replace(cfg, cache_dir=str(tmp_path / "other"), url=text_file(tmp_path, "x" * 10).as_uri()))
    with pytest.raises(UserError, match="downloading is off; put the text at data.path=<file>"):
        locate_text(replace(cfg, cache_dir=str(tmp_path / "empty"), download=False))
