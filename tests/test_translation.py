"""Toy translation: the data a user trains on, the encoder–decoder, its searches, and a model that learns."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from conftest import run_in_process
from rnnlab.errors import UserError
from rnnlab.models.config import DecodeConfig, ModelConfig
from rnnlab.models.decoding import beam_search, greedy_decode, until_eos
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


def test_a_task_can_be_rebuilt_from_its_checkpoint_hyperparameters():
    data = small_data()
    task = Seq2SeqTask(ModelConfig(hidden_size=8), OptimizerConfig(), data.spec, decode=DecodeConfig(beam_size=2))
    assert task.hparams["decode"]["beam_size"] == 2 and task.hparams["spec"]["pairs"] == "reverse"


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
    metrics, run_dir = run_in_process(
        tmp_path, "data=translation", f"model={model}", "data.task=numbers", "data.min_len=1", "data.max_len=3",
        "data.train_size=64", "data.val_size=16", "data.test_size=16", "trainer.max_epochs=1", "logger=none",
        "decode.beam_size=2",
    )
    assert metrics["status"] == "ok" and 0.0 <= metrics["metrics"]["test/bleu"] <= 1.0
    assert (run_dir / "figures" / "attention.png").exists() == (model == "attention")
