"""Toy translation: the data a user trains on, the encoder–decoder, its searches, and a model that learns."""

from __future__ import annotations

import itertools
import json
import math
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from conftest import run_in_process
from rnnlab.errors import UserError
from rnnlab.models.config import DecodeConfig, ModelConfig
from rnnlab.models.decoder import Memory
from rnnlab.models.decoding import beam_search, greedy_decode, length_penalty, until_eos
from rnnlab.models.seq2seq import Seq2Seq
from rnnlab.run.predict import load_checkpoint, load_task
from rnnlab.run.predict import main as predict_main
from rnnlab.tasks.optimizer import OptimizerConfig
from rnnlab.tasks.translate.data import EOS, PAD, SOS, TranslationData
from rnnlab.tasks.translate.predict import translate
from rnnlab.tasks.translate.schema import TranslationDataConfig
from rnnlab.tasks.translate.task import Seq2SeqTask

SMALL = TranslationDataConfig(task="reverse", train_size=300, val_size=50, test_size=50, min_len=3, max_len=8,
                              symbols=6, batch_size=16)


def small_data(**changes) -> TranslationData:
    data = TranslationData(replace(SMALL, **changes), seed=0)
    data.setup()
    return data


def test_splits_are_disjoint_and_batches_shift_the_target_by_one_step():
    data = small_data()
    sources = {split: {tuple(s) for s, _ in data.sets[split].pairs} for split in ("train", "val", "test")}
    assert not sources["train"] & sources["val"] and not sources["train"] & sources["test"]
    assert not sources["val"] & sources["test"]
    source, lengths, target_in, target_out, rows = next(iter(data.val_dataloader()))
    assert source.shape == (16, int(lengths.max())) and target_in.shape == target_out.shape
    for i in range(len(rows)):
        tokens, reference = data.sets["val"].pairs[int(rows[i])]
        assert [data.spec.source_vocab[j] for j in source[i, : lengths[i]]] == tokens
        assert (source[i, lengths[i] :] == PAD).all()
        words = [data.spec.target_vocab[j] for j in until_eos(target_out[i : i + 1], EOS)[0]]
        assert words == reference == tokens[::-1]
        assert target_in[i, 0] == SOS and torch.equal(target_in[i, 1 : len(reference) + 1],
                                                      target_out[i, : len(reference)])
    assert data.spec.source_vocab[:3] == ["<pad>", "<s>", "</s>"]


@pytest.mark.parametrize("attention", ["none", "bahdanau", "luong"])
@pytest.mark.parametrize(("cell", "bidirectional", "layers"), [("lstm", False, 1), ("gru", True, 2), ("rnn", False, 1)])
def test_every_decoder_gives_logits_per_step_and_ignores_source_padding(attention, cell, bidirectional, layers):
    torch.manual_seed(0)
    cfg = ModelConfig(cell=cell, hidden_size=8, num_layers=layers, bidirectional=bidirectional, attention=attention,
                      luong_score="dot" if cell == "gru" else "general")
    net = Seq2Seq(cfg, source_vocab=9, target_vocab=7, embedding_dim=5).eval()
    source = torch.randint(3, 9, (4, 6))
    lengths = torch.tensor([6, 4, 2, 5])
    target_in = torch.randint(3, 7, (4, 5))
    logits = net(source, lengths, target_in)
    assert logits.shape == (4, 5, 7)
    noisy = source.clone()
    for row, length in enumerate(lengths):
        noisy[row, length:] = torch.randint(3, 9, (6 - int(length),))  # garbage where the pads are
    assert torch.allclose(net(noisy, lengths, target_in), logits, atol=1e-6)
    if attention != "none":
        _, weights = greedy_decode(net, source, lengths, max_steps=5, sos=SOS, eos=EOS)
        assert torch.allclose(weights.sum(-1), torch.ones(weights.shape[:2]), atol=1e-5)
        assert (weights[2, :, 2:] == 0).all()  # the row with 2 real tokens never attends to its pads


def sequence_log_prob(net: Seq2Seq, source, lengths, ids: list[int]) -> float:
    target_in = torch.tensor([[SOS, *ids]])
    log_probs = torch.log_softmax(net(source, lengths, target_in), dim=-1)[0]
    return float(sum(log_probs[t, token] for t, token in enumerate([*ids, EOS])))


def test_beam_search_finds_translations_at_least_as_likely_as_greedy():
    torch.manual_seed(3)
    net = Seq2Seq(ModelConfig(hidden_size=16, attention="bahdanau"), 12, 10, 8).eval()
    source, lengths = torch.randint(3, 12, (6, 7)), torch.tensor([7, 7, 5, 6, 3, 7])
    greedy, _ = greedy_decode(net, source, lengths, max_steps=12, sos=SOS, eos=EOS)
    assert torch.equal(beam_search(net, source, lengths, 1, 12, SOS, EOS, alpha=0.0)[:, : greedy.shape[1]], greedy)
    beams = beam_search(net, source, lengths, 6, 12, SOS, EOS, alpha=0.0)
    for row in range(6):
        found = until_eos(beams[row : row + 1], EOS)[0]
        best_greedy = until_eos(greedy[row : row + 1], EOS)[0]
        if EOS in beams[row].tolist() and EOS in greedy[row].tolist():
            one = (source[row : row + 1], lengths[row : row + 1])
            assert sequence_log_prob(net, *one, found) >= sequence_log_prob(net, *one, best_greedy) - 1e-4


class TableModel:
    """A stand-in for Seq2Seq whose next-token log-probabilities are a fixed table: `table(row, prefix)` gives
    them for source row `row` after the tokens `prefix` (SOS left out). The decoder state carries the prefix,
    so that beam search reorders it like a real state."""

    def __init__(self, table) -> None:
        self.table, self.decoder = table, self

    def encode(self, source, lengths):
        memory = Memory(torch.zeros(len(source), 1, 1), None, torch.ones(len(source), 1, dtype=torch.bool))
        return memory, [torch.arange(len(source)).unsqueeze(1)]  # each row starts with its index

    def step(self, previous, state, memory):
        prefix = torch.cat([state[0], previous.unsqueeze(1)], dim=1)
        log_probs = torch.stack([self.table(row[0], tuple(row[2:])) for row in prefix.tolist()])
        return log_probs, [prefix], None


def table_log_probs(probabilities: dict[int, float]) -> torch.Tensor:
    log_probs = torch.full((5,), float("-inf"))  # vocabulary: pad, sos, eos and the words 3 and 4
    for token, p in probabilities.items():
        log_probs[token] = math.log(p)
    return log_probs


def test_the_length_penalty_divides_the_score_so_a_longer_translation_can_win():
    """From SOS: EOS at once (log p = -0.92) or word 3 then EOS (log p = -1.0). Unnormalised, the short one
    wins; GNMT's penalty divides by ((5 + 2) / 6) ** alpha, which lifts the long one to -0.86 at alpha 1."""
    short, long_eos = 0.4, math.exp(-1.0) / 0.6
    tables = {(): {EOS: short, 3: 0.6}, (3,): {EOS: long_eos, 3: (1 - long_eos) / 2, 4: (1 - long_eos) / 2}}
    net = TableModel(lambda row, prefix: table_log_probs(tables.get(prefix, {EOS: 1.0})))
    source, lengths = torch.zeros(1, 1, dtype=torch.long), torch.ones(1, dtype=torch.long)

    def best(alpha: float) -> list[int]:
        return until_eos(beam_search(net, source, lengths, 3, 4, SOS, EOS, alpha=alpha, pad=PAD), EOS)[0]

    assert best(0.0) == []
    assert best(1.0) == [3]
    assert math.log(0.6 * long_eos) / length_penalty(torch.tensor(2), 1.0) > math.log(short)  # why it wins


WORDS = (3, 4)


def random_table(seed: int):
    """Log-probabilities over EOS and WORDS, drawn afresh for every (row, prefix); pad and SOS impossible."""
    def table(row: int, prefix: tuple[int, ...]) -> torch.Tensor:
        generator = torch.Generator().manual_seed(zlib.crc32(repr((seed, row, prefix)).encode()))
        log_probs = torch.full((5,), float("-inf"))
        log_probs[[EOS, *WORDS]] = torch.log_softmax(2 * torch.randn(3, generator=generator), dim=0)
        return log_probs

    return table


def exhaustive_best(table, row: int, max_steps: int, alpha: float) -> list[int]:
    """Every output there is (words then EOS, or max_steps words): the best by length-penalised score."""
    scored = []
    for length in range(max_steps + 1):
        for words in itertools.product(WORDS, repeat=length):
            ended = length < max_steps
            tokens = [*words, EOS] if ended else list(words)
            score = sum(float(table(row, tuple(tokens[:t]))[token]) for t, token in enumerate(tokens))
            scored.append((score / float(length_penalty(torch.tensor(len(tokens)), alpha)), list(words)))
    return max(scored)[1]


@pytest.mark.parametrize("alpha", [0.0, 1.0, 2.0])
def test_beam_search_wide_enough_to_keep_every_hypothesis_finds_the_exhaustive_best(alpha):
    """With a beam as wide as the number of possible outputs nothing is pruned, so beam search must return
    exactly the best output: finished hypotheses must stay finished when the beam is reordered, or they
    grow pads in the middle of a translation and unfinished ones stop early."""
    max_steps, rows = 4, 6
    beams = sum(len(WORDS) ** n for n in range(max_steps + 1))  # outputs of 0..max_steps words
    source, lengths = torch.zeros(rows, 1, dtype=torch.long), torch.ones(rows, dtype=torch.long)
    for seed in range(3):
        table = random_table(seed)
        tokens = beam_search(TableModel(table), source, lengths, beams, max_steps, SOS, EOS, alpha=alpha, pad=PAD)
        for row in range(rows):
            output = tokens[row].tolist()
            words = until_eos(tokens[row : row + 1], EOS)[0]
            assert PAD not in words and SOS not in words, output  # pads only after EOS
            assert all(token == PAD for token in output[len(words) + 1 :]), output
            assert words == exhaustive_best(table, row, max_steps, alpha), (seed, row, output)


def test_decode_settings_are_checked():
    with pytest.raises(UserError, match="decode.beam_size=0 is not valid; use 1"):
        DecodeConfig(beam_size=0).check()
    with pytest.raises(UserError, match="data.min_len=9 is greater than data.max_len=4"):
        replace(SMALL, min_len=9, max_len=4).check()


def test_attention_model_learns_to_reverse_and_predict_translates(tmp_path, capsys):
    metrics, run_dir = run_in_process(
        tmp_path, "data=translation", "model=attention", "data.task=reverse", "data.min_len=3", "data.max_len=6",
        "data.symbols=6", "data.train_size=1500", "data.val_size=100", "data.test_size=100", "trainer.max_epochs=12",
        "optimizer.lr=0.01", "trainer.num_threads=1", "decode.beam_size=3", "logger=tensorboard",
    )
    assert metrics["metrics"]["test/exact_match"] >= 0.9, metrics["metrics"]
    assert metrics["metrics"]["test/bleu"] >= 0.9
    assert [b["lengths"] for b in metrics["report"]["by_length"]] == ["3", "4", "5", "6"]
    assert sum(b["n"] for b in metrics["report"]["by_length"]) == 100
    for name in ("attention.png", "accuracy_by_length.png", "learning_curves.png"):
        assert (run_dir / "figures" / name).stat().st_size > 0
    assert "| source | reference | prediction | correct |" in (run_dir / "translations.md").read_text()
    assert json.loads((run_dir / "metrics.json").read_text())["report"]["decode"]["beam_size"] == 3

    checkpoint = run_dir / "checkpoints" / "best.ckpt"
    task = load_task(load_checkpoint(checkpoint))
    assert isinstance(task, Seq2SeqTask)
    assert translate(task, ["a b c d", "f e d"]) == ["d c b a", "d e f"]
    capsys.readouterr()  # the run's own summary
    predict_main([f"ckpt={checkpoint}", "text=c c a b"])
    assert capsys.readouterr().out == "b a c c\tc c a b\n"
    with pytest.raises(SystemExit) as stop:
        predict_main([f"ckpt={checkpoint}", "text=a z b"])
    assert stop.value.code == 2
    assert "the source contains 'z', which the model's vocabulary does not have" in capsys.readouterr().err


def test_plain_encoder_decoder_bridges_bidirectional_states(tmp_path):
    metrics, run_dir = run_in_process(
        tmp_path, "data=translation", "model=bilstm", "data.task=numbers", "data.min_len=1", "data.max_len=2",
        "data.train_size=60", "data.val_size=20", "data.test_size=10", "trainer.max_epochs=1", "logger=none",
        "trainer.num_threads=1",
    )
    assert metrics["status"] == "ok" and 0.0 <= metrics["metrics"]["test/exact_match"] <= 1.0
    assert metrics["task"] == "translate" and not (run_dir / "figures" / "attention.png").exists()

    net = load_task(load_checkpoint(run_dir / "checkpoints" / "best.ckpt")).net
    assert net.decoder.attention is None  # the source reaches the decoder only through its first state
    hidden = net.encoder.output_size // 2
    source = torch.randint(3, net.source_embedding.num_embeddings, (4, 5))
    lengths = torch.tensor([5, 1, 3, 2])
    with torch.no_grad():
        states, _ = net.encoder(net.source_embedding(source), lengths=lengths)
        forward_last = states[torch.arange(4), lengths - 1, :hidden]  # the forward pass ends at the last real token
        backward_last = states[:, 0, hidden:]  # the backward pass ends at the first token
        expected = torch.tanh(net.decoder.bridge(torch.cat([forward_last, backward_last], dim=-1))).chunk(2, dim=-1)
        _, state = net.encode(source, lengths)
        torch.testing.assert_close(state, list(expected))  # [h, c] of the decoder's one LSTM layer
        net.encoder.layers[0].rnn.weight_ih_l0_reverse.add_(0.5)  # change the backward direction only
        changed_states, _ = net.encoder(net.source_embedding(source), lengths=lengths)
        _, changed = net.encode(source, lengths)
    torch.testing.assert_close(changed_states[..., :hidden], states[..., :hidden])
    assert not torch.allclose(changed[0], state[0]) and not torch.allclose(changed[1], state[1])


def test_a_task_can_be_rebuilt_from_its_checkpoint_hyperparameters(tmp_path):
    """A checkpoint alone rebuilds the trained model: its architecture, vocabularies, decode settings, weights."""
    import pytorch_lightning as pl

    data = small_data()
    model = ModelConfig(cell="gru", hidden_size=8, bidirectional=True, attention="luong", luong_score="dot")
    decode = DecodeConfig(beam_size=3, length_penalty=0.5, max_steps=7)
    task = Seq2SeqTask(model, OptimizerConfig(lr=0.01, scheduler="none"), data.spec, decode=decode)
    trainer = pl.Trainer(max_steps=5, limit_val_batches=0, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(task, datamodule=data)
    trainer.save_checkpoint(tmp_path / "trained.ckpt")

    rebuilt = load_task(load_checkpoint(tmp_path / "trained.ckpt"))
    task.eval()
    assert isinstance(rebuilt, Seq2SeqTask) and not rebuilt.training
    assert (rebuilt.spec, rebuilt.decode_cfg) == (task.spec, decode)
    source, lengths, target_in, _, _ = next(iter(data.test_dataloader()))
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.net(source, lengths, target_in), task.net(source, lengths, target_in),
                                   rtol=0, atol=0)
    assert rebuilt(source, lengths) == task(source, lengths)  # the same beam translations


def test_the_length_study_compares_decoders_at_an_equal_parameter_budget(tmp_path):
    from conftest import compose_config

    counts = {}
    for preset in ("translation_length", "translation_length_plain"):
        config, _ = compose_config(tmp_path, f"experiment={preset}")
        data = TranslationData(config.data, config.seed)
        data.setup()
        task = Seq2SeqTask(config.model, config.optimizer, data.spec, decode=config.decode)
        counts[config.model.attention] = sum(p.numel() for p in task.parameters())
    assert set(counts) == {"bahdanau", "none"}
    assert abs(counts["none"] - counts["bahdanau"]) / counts["bahdanau"] < 0.01, counts


@pytest.mark.parametrize("model", sorted(p.stem for p in (Path(__file__).parents[1] / "conf" / "model").glob("*.yaml")))
def test_every_model_config_translates(tmp_path, model):
    """Each model config learns (30 steps on one batch of 64 pairs cut the loss to under half its start, about
    chance's ln of the target vocabulary), gives logits per target step and translates with beams."""
    metrics, run_dir = run_in_process(
        tmp_path, "data=translation", f"model={model}", "data.task=numbers", "data.min_len=1", "data.max_len=3",
        "data.train_size=64", "data.val_size=16", "data.test_size=16", "debug=overfit", "trainer.max_epochs=30",
        "optimizer.lr=0.01", "optimizer.scheduler=none", "logger=none", "decode.beam_size=2",
    )
    assert metrics["status"] == "ok" and 0.0 <= metrics["metrics"]["test/bleu"] <= 1.0
    assert (run_dir / "figures" / "attention.png").exists() == (model == "attention")
    task = load_task(load_checkpoint(run_dir / "checkpoints" / "last.ckpt"))
    sources, targets = len(task.spec.source_vocab), len(task.spec.target_vocab)
    losses = [row["train/loss"] for row in metrics["history"]]
    assert losses[0] == pytest.approx(math.log(targets), rel=0.1) and losses[-1] < 0.5 * losses[0], losses

    source, lengths = torch.randint(3, sources, (5, 4)), torch.tensor([4, 1, 3, 2, 4])
    target_in = torch.cat([torch.full((5, 1), SOS), torch.randint(3, targets, (5, 5))], dim=1)
    with torch.no_grad():
        assert task.net(source, lengths, target_in).shape == (5, 6, targets)
    translations = task(source, lengths)
    assert len(translations) == 5 and all(len(ids) <= task.max_steps for ids in translations)
    assert all(0 <= i < targets for ids in translations for i in ids)
