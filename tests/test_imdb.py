"""IMDB sentiment end to end on small reviews in the official layout (the real archive: test_imdb_real)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch

from conftest import run_in_process
from imdb_fixture import TEST_ONLY_WORDS, write_imdb_folder
from rnnlab.data.text import OOV_ID, PAD_ID
from rnnlab.run.predict import load_checkpoint, load_task
from rnnlab.run.predict import main as predict_main
from rnnlab.tasks.classify.data import ClassifyData
from rnnlab.tasks.classify.predict import class_probabilities
from rnnlab.tasks.classify.schema import ClassifyDataConfig
from rnnlab.tasks.classify.task import align_left

CONF_MODELS = sorted(path.stem for path in (Path(__file__).parents[1] / "conf" / "model").glob("*.yaml"))
POSITIVE = "great wonderful loved superb brilliant moving".split()
NEGATIVE = "awful boring hated dreadful terrible dull".split()
FILLER = "the movie film a and of it was plot acting story i to this".split()


def sentiment_reviews(per_label: dict[str, int], seed: int = 0) -> dict[tuple[str, str], dict[str, str]]:
    """Reviews of 5-60 words whose sentiment shows in a few words among filler: learnable, not trivial."""
    rng = random.Random(seed)
    reviews = {}
    for split, count in per_label.items():
        for label, words in (("pos", POSITIVE), ("neg", NEGATIVE)):
            texts = {}
            for i in range(count):
                body = [rng.choice(FILLER) for _ in range(rng.randint(5, 60))]
                for _ in range(2):
                    body.insert(rng.randrange(len(body)), rng.choice(words))
                texts[f"{i}_{8 if label == 'pos' else 2}.txt"] = " ".join(body) + ".<br /><br />"
            reviews[(split, label)] = texts
    return reviews


@pytest.fixture
def reviews_folder(tmp_path):
    return write_imdb_folder(tmp_path / "data", sentiment_reviews({"train": 300, "test": 100}))


def imdb(folder: Path, tmp_path: Path, *overrides: str) -> list[str]:
    return ["data=imdb", f"data.path={folder}", f"data.cache_dir={tmp_path / 'cache'}", "data.download=false",
            "data.embedding_dim=16", "model.hidden_size=16", *overrides]


def test_vocabulary_comes_from_training_reviews_only(tmp_path):
    folder = write_imdb_folder(tmp_path / "data")
    data = ClassifyData(ClassifyDataConfig(path=str(folder), cache_dir=str(tmp_path / "cache"), val_fraction=0.34),
                        seed=0)
    data.setup()
    words = data.spec.vocab["words"]
    assert words[PAD_ID] == "<pad>" and words[OOV_ID] == "<oov>"
    assert not set(TEST_ONLY_WORDS) & set(words)
    assert sorted(data.sets["val"].labels.tolist()) == [0, 1]  # stratified: one review of each label
    assert len(data.sets["train"]) == 4 and len(data.sets["test"]) == 4


def test_batches_are_trimmed_to_their_longest_review_on_the_padded_side(reviews_folder, tmp_path):
    for pad in ("pre", "post"):
        cfg = ClassifyDataConfig(path=str(reviews_folder), cache_dir=str(tmp_path / "cache"), pad=pad,
                                 batch_size=32)
        data = ClassifyData(cfg, seed=0)
        data.setup()
        tokens, lengths, labels, rows = next(iter(data.train_dataloader()))
        assert tokens.shape[1] == lengths.max() and tokens.shape[0] == len(labels) == len(rows) == 32
        real = tokens != PAD_ID
        first_real = real[:, 0] if pad == "post" else real[:, -1]
        assert first_real.all() and torch.equal(real.sum(1), lengths)


def test_evaluation_batches_hold_both_labels(reviews_folder, tmp_path):
    data = ClassifyData(ClassifyDataConfig(path=str(reviews_folder), cache_dir=str(tmp_path / "cache"),
                                           batch_size=16, bucket_by_length=False), seed=0)
    data.setup()
    for loader in (data.val_dataloader(), data.test_dataloader()):
        labels = next(iter(loader))[2]
        assert 0 < labels.sum() < len(labels)  # the archive lists every negative review first
    assert sorted(data.sets["test"].rows.tolist()) == list(range(200))


def test_align_left_moves_pre_padded_tokens_to_the_front():
    tokens = torch.tensor([[0, 0, 5, 6], [7, 8, 9, 4], [0, 0, 0, 3]])
    assert align_left(tokens, torch.tensor([2, 4, 1])).tolist() == [[5, 6, 0, 0], [7, 8, 9, 4], [3, 0, 0, 0]]


@pytest.mark.parametrize("model", CONF_MODELS)
def test_every_model_config_classifies_reviews(reviews_folder, tmp_path, model):
    """Each model config learns (30 steps on one batch of 64 reviews drive its loss well below chance's
    ln 2), gives one logit per review, and its run reports on every test review."""
    results, run_dir = run_in_process(tmp_path, *imdb(reviews_folder, tmp_path, f"model={model}", "debug=overfit",
                                                      "trainer.max_epochs=30", "optimizer.lr=0.01",
                                                      "optimizer.scheduler=none", "logger=none"))
    losses = [row["train/loss"] for row in results["history"]]
    assert losses[0] == pytest.approx(math.log(2), abs=0.05) and losses[-1] < 0.5 * losses[0], losses
    metrics = results["metrics"]
    for key in ("test/acc", "test/f1", "test/precision", "test/recall", "test/auroc", "val/acc"):
        assert 0 <= metrics[key] <= 1, key
    assert sum(map(sum, results["report"]["confusion_matrix"])) == 200
    assert (run_dir / "figures" / "confusion_matrix.png").is_file()
    assert "precision" in (run_dir / "classification_report.txt").read_text()

    module = load_task(load_checkpoint(run_dir / "checkpoints" / "last.ckpt"))
    tokens = torch.randint(2, len(module.spec.vocab["words"]), (3, 9))
    assert module(tokens, torch.tensor([9, 4, 1])).shape == (3,)
    found = class_probabilities(module, ["a wonderful film", "dull", "the plot of the movie was a story"])
    assert found.shape == (3, 2) and ((0 <= found) & (found <= 1)).all()
    assert torch.allclose(found.sum(1), torch.ones(3))


@pytest.mark.parametrize("pad, scheduler", [("pre", "plateau"), ("post", "onecycle")])
def test_an_lstm_learns_the_sentiment_and_predict_reads_its_checkpoint(reviews_folder, tmp_path, capsys, pad,
                                                                       scheduler):
    results, run_dir = run_in_process(tmp_path, *imdb(reviews_folder, tmp_path, f"data.pad={pad}", "logger=none",
                                                      "trainer.max_epochs=15", "optimizer.lr=0.01",
                                                      "callbacks.early_stopping=false",
                                                      # the best checkpoint by val/acc on 60 reviews (the default
                                                      # 10%) was a coin toss: at seed 0 one rounding change in the
                                                      # model flipped test/acc between 0.895 and 0.995; 120 reviews
                                                      # gave test/acc 0.97-1.0 over seeds 0-5 at one thread
                                                      "data.val_fraction=0.2",
                                                      f"optimizer.scheduler={scheduler}"))
    assert results["metrics"]["test/acc"] > 0.9
    assert results["metrics"]["test/auroc"] > 0.95
    wrong = (run_dir / "most_confidently_wrong.md").read_text()
    assert wrong.startswith("# Most confidently wrong")
    predict_main([f"ckpt={run_dir / 'checkpoints' / 'best.ckpt'}", "text=a wonderful superb film, loved it"])
    predict_main([f"ckpt={run_dir / 'checkpoints' / 'best.ckpt'}", "text=boring and awful, I hated it"])
    lines = capsys.readouterr().out.strip().splitlines()[-4::3]  # each: a header, the column names, the prediction
    assert lines[0].startswith("pos\t") and lines[1].startswith("neg\t")
    texts = tmp_path / "texts.txt"
    texts.write_text("loved it, brilliant\n\ndull dull dull\n")
    predict_main([f"ckpt={run_dir / 'checkpoints' / 'best.ckpt'}", f"file={texts}"])
    header, columns, *rows = capsys.readouterr().out.strip().splitlines()  # what the numbers are, column names
    assert "sigmoid" in header and columns == "class\tP(neg)\tP(pos)\ttext"
    assert [line.split("\t")[0] for line in rows] == ["pos", "neg"]


def test_predict_refuses_empty_text_foreign_checkpoints_and_garbage(tmp_path, capsys):
    forecast, run_dir = run_in_process(tmp_path, "debug=limit", "logger=none")
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    cases = {
        ("text=",): "the text to predict is empty",
        (f"ckpt={run_dir / 'checkpoints' / 'best.ckpt'}", "text=hello"): "this checkpoint is a forecast model",
        (f"ckpt={garbage}", "text=hello"): "is not a readable rnnlab checkpoint",
        (f"ckpt={tmp_path / 'missing.ckpt'}", "text=hello"): "does not exist",
    }
    for args, message in cases.items():
        argv = list(args) if args[0].startswith("ckpt") else [f"ckpt={garbage}", *args]
        with pytest.raises(SystemExit) as exit_info:
            predict_main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_metrics_json_reports_the_classifier(reviews_folder, tmp_path):
    _, run_dir = run_in_process(tmp_path, *imdb(reviews_folder, tmp_path, "debug=limit", "logger=none"))
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["task"] == "classify" and saved["monitor"] == "val/acc"
    assert set(saved["report"]["classification_report"]["classes"]) == {"neg", "pos"}
