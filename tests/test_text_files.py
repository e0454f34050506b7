"""data=text: a user's labelled texts (CSV, TSV, JSONL, a folder per class) through the classifier IMDB uses."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
import torch

from conftest import compose_config, run_in_process
from rnnlab.errors import UserError
from rnnlab.run.predict import load_checkpoint
from rnnlab.run.predict import main as predict_main
from rnnlab.tasks.classify.data import ClassifyData
from rnnlab.tasks.classify.files import read_labelled_files
from rnnlab.tasks.classify.splits import class_order

KEYWORDS = {"sport": "goal match team referee".split(), "tech": "software chip laptop robot".split(),
            "food": "recipe soup bread cheese".split()}
COUNTS = {"sport": 300, "tech": 180, "food": 120}  # imbalanced: the majority baseline scores 50%
FILLER = "the a of and today people said it was new big very about this".split()


def topic_texts(counts: dict[str, int], seed: int = 0) -> list[tuple[str, str]]:
    """(text, class) pairs: the class is the one whose keyword occurs among 4-25 filler words, in class order."""
    rng = random.Random(seed)
    rows = []
    for label, count in counts.items():
        for _ in range(count):
            words = [rng.choice(FILLER) for _ in range(rng.randint(4, 25))]
            words.insert(rng.randrange(len(words)), rng.choice(KEYWORDS[label]))
            rows.append((" ".join(words), label))
    return rows


def write_csv(path: Path, rows: list[tuple[str, str]], columns=("text", "label"), delimiter: str = ",") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[tuple[str, str]], label_key: str = "topic") -> Path:
    path.write_text("".join(json.dumps({"text": text, label_key: label, "id": i}) + "\n"
                            for i, (text, label) in enumerate(rows)), encoding="utf-8")
    return path


def write_class_folders(root: Path, rows: list[tuple[str, str]]) -> Path:
    for i, (text, label) in enumerate(rows):
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{i}.txt").write_text(text, encoding="utf-8")
    return root


def text_data(tmp_path: Path, *overrides: str) -> list[str]:
    """A tiny model trained briefly: a few seconds a run."""
    return ["data=text", "data.embedding_dim=16", "model.hidden_size=16", "logger=none", *overrides]


def read(tmp_path: Path, *overrides: str) -> ClassifyData:
    config, _ = compose_config(tmp_path, *text_data(tmp_path, *overrides))
    data = ClassifyData(config.data, config.seed)
    data.setup()
    return data


def test_a_three_class_classifier_learns_which_keyword_occurs_and_predict_names_the_class(tmp_path, capsys):
    path = write_csv(tmp_path / "news.csv", topic_texts(COUNTS))
    results, run_dir = run_in_process(tmp_path, *text_data(tmp_path, f"data.path={path}", "model=bigru",
                                                           "trainer.max_epochs=15", "data.batch_size=32",
                                                           "optimizer.lr=0.01", "callbacks.early_stopping=false",
                                                           "data.val_fraction=0.2", "data.test_fraction=0.2"))
    metrics = results["metrics"]
    assert metrics["test/majority_acc"] == pytest.approx(0.5)  # 60 of the 120 test texts are sport
    assert metrics["test/acc"] > 0.9 and metrics["test/macro_f1"] > 0.85, metrics
    for key in ("test/balanced_acc", "test/weighted_f1", "val/acc", "test/majority_macro_f1"):
        assert 0 <= metrics[key] <= 1, key
    report = results["report"]
    assert report["labels"] == ["food", "sport", "tech"]  # the checkpoint's class names, sorted
    # 20% of each class tests, 20% of the rest validates
    assert report["train_class_counts"] == {"food": 77, "sport": 192, "tech": 115}
    assert "beats the majority-class baseline (always 'sport'" in report["verdict"]
    assert set(report["classification_report"]["classes"]) == {"food", "sport", "tech"}
    assert len(report["confusion_matrix"]) == 3 and sum(map(sum, report["confusion_matrix"])) == 120
    assert (run_dir / "figures" / "confusion_matrix.png").is_file()
    table = (run_dir / "classification_report.txt").read_text()
    assert "macro avg" in table and "weighted avg" in table and "train" in table
    console = capsys.readouterr().out
    assert "macro avg" in console and "majority-class baseline" in console

    best = run_dir / "checkpoints" / "best.ckpt"
    assert load_checkpoint(best)["hyper_parameters"]["spec"]["labels"] == ["food", "sport", "tech"]
    predict_main([f"ckpt={best}", "text=the new laptop and a robot"])
    header, columns, line = capsys.readouterr().out.strip().splitlines()
    assert header == ("# class probabilities (the softmax of the model's outputs); the predicted class is the most "
                      "probable")
    assert columns == "class\tP(food)\tP(sport)\tP(tech)\ttext"
    predicted, *probabilities, text = line.split("\t")
    assert predicted == "tech" and text == "the new laptop and a robot"
    assert sum(map(float, probabilities)) == pytest.approx(1, abs=1e-3) and float(probabilities[2]) > 0.5


def test_csv_fields_may_hold_quoted_commas_and_newlines_and_the_delimiter_is_sniffed(tmp_path):
    rows = [("goal, then another goal\nfor the team", "sport"), ('chip "fast"; laptop', "tech")] * 5
    for i, delimiter in enumerate((",", ";", "|")):
        path = write_csv(tmp_path / f"quoted{i}.csv", rows, ("body", "kind"), delimiter)
        found = read_labelled_files(compose_config(tmp_path, "data=text", f"data.path={path}",
                                                   "data.text_column=body", "data.label_column=kind")[0].data)
        assert found["train"].texts[:2] == [rows[0][0], rows[1][0]] and found["train"].labels[:2] == ["sport", "tech"]
    given = compose_config(tmp_path, "data=text", f"data.path={path}", "data.delimiter=|", "data.text_column=body",
                           "data.label_column=kind")[0].data  # the last file, told instead of sniffed
    assert read_labelled_files(given)["train"].texts[1] == rows[1][0]


def test_tsv_jsonl_and_folders_read_the_same_texts(tmp_path):
    rows = topic_texts({"sport": 5, "tech": 5, "food": 5})
    tsv = write_csv(tmp_path / "news.tsv", rows, delimiter="\t")
    jsonl = write_jsonl(tmp_path / "news.jsonl", rows)
    folders = write_class_folders(tmp_path / "news", rows)
    for overrides in ([f"data.path={tsv}"], [f"data.path={jsonl}", "data.label_column=topic"],
                      [f"data.path={folders}"]):
        found = read_labelled_files(compose_config(tmp_path, "data=text", *overrides)[0].data)["train"]
        assert sorted(zip(found.texts, found.labels)) == sorted(rows), overrides


def test_split_files_in_a_folder_are_read_as_those_splits(tmp_path):
    folder = tmp_path / "splits"
    folder.mkdir()
    write_csv(folder / "train.csv", topic_texts({"sport": 7, "tech": 6}, seed=1) + [("l'équipe a gagné", "sport")])
    write_csv(folder / "dev.csv", topic_texts({"sport": 3, "tech": 2}, seed=2))
    write_jsonl(folder / "test.jsonl", topic_texts({"sport": 4, "tech": 4}, seed=3), label_key="label")
    data = read(tmp_path, f"data.path={folder}")
    assert {split: len(s) for split, s in data.sets.items()} == {"train": 14, "val": 5, "test": 8}
    assert data.spec.labels == ["sport", "tech"] and data.train_counts == {"sport": 8, "tech": 6}
    assert {"l'équipe", "gagné"} <= set(data.spec.vocab["words"])  # data=text's tokens: any script


def test_without_split_files_val_and_test_are_carved_stratified_and_the_test_split_stays_across_seeds(tmp_path):
    path = write_csv(tmp_path / "news.csv", topic_texts(COUNTS))
    first, second = read(tmp_path, f"data.path={path}"), read(tmp_path, f"data.path={path}", "seed=1")
    assert {split: len(s) for split, s in first.sets.items()} == {"train": 486, "val": 54, "test": 60}
    assert first.train_counts == {"food": 97, "sport": 243, "tech": 146}  # 10% of each class, then 10% of the rest
    assert sorted(first.test_split.texts) == sorted(second.test_split.texts)  # data.split_seed, not the run's seed
    assert not torch.equal(first.sets["val"].tokens, second.sets["val"].tokens)


def test_imdbs_split_layout_with_any_number_of_classes(tmp_path):
    root = tmp_path / "corpus"
    write_class_folders(root / "train", topic_texts({"sport": 6, "tech": 6, "food": 6}, seed=1))
    write_class_folders(root / "test", topic_texts({"sport": 2, "tech": 2, "food": 2}, seed=2))
    data = read(tmp_path, f"data.path={root}")
    assert data.spec.labels == ["food", "sport", "tech"] and len(data.sets["test"]) == 6


def test_balanced_class_weights_reach_the_loss(tmp_path):
    path = write_csv(tmp_path / "news.csv", topic_texts(COUNTS))
    data = read(tmp_path, f"data.path={path}", "data.class_weights=balanced")
    counts = torch.tensor([data.train_counts[c] for c in data.spec.labels], dtype=torch.float)
    assert torch.allclose(torch.tensor(data.spec.class_weights), counts.sum() / (3 * counts))
    assert read(tmp_path, f"data.path={path}").spec.class_weights is None


def test_empty_texts_are_counted_and_skipped_or_refused(tmp_path, caplog):
    path = write_csv(tmp_path / "news.csv", [*topic_texts(COUNTS), ("", "tech"), ("   ", "food")])
    data = read(tmp_path, f"data.path={path}")
    assert sum(len(s) for s in data.sets.values()) == 600
    assert "skipped 2 empty texts of 602" in caplog.text
    with pytest.raises(UserError, match=r"^2 of the 602 texts in '.*news.csv' are empty; remove them, or set "
                                        r"data.empty_texts=skip"):
        read(tmp_path, f"data.path={path}", "data.empty_texts=error")


def bad_input(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """Each case: the files written, the overrides, the start of the one-line error."""
    rows = topic_texts({"sport": 10, "tech": 10})
    write_csv(tmp_path / "news.csv", rows, ("review", "stars"))
    write_csv(tmp_path / "one.csv", topic_texts({"sport": 10}))
    (tmp_path / "latin1.csv").write_bytes("text,label\ncaf\xe9 goal,sport\n".encode("latin-1"))
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "notes.md").write_text("no classes here")
    split = tmp_path / "split"
    split.mkdir()
    write_csv(split / "train.csv", rows)
    write_csv(split / "test.csv", [("goal today", "sport"), ("soup and bread", "food"), ("cheese", "wine")])
    return {
        "column": ([f"data.path={tmp_path / 'news.csv'}", "data.label_column=stars"],
                   "data.text_column 'text' is not in '{p}/news.csv'; its columns are: review, stars"),
        "one class": ([f"data.path={tmp_path / 'one.csv'}"],
                      "'{p}/one.csv' has only the class 'sport'; a classifier needs texts of at least two classes"),
        "unseen": ([f"data.path={split}"], "labels 'food', 'wine' in '{p}/split/test.csv' (test) never occur in "
                                           "training (sport, tech)"),
        "not utf-8": ([f"data.path={tmp_path / 'latin1.csv'}"],
                      "'{p}/latin1.csv' is not UTF-8 text: byte 14 (0xe9) cannot be decoded"),
        "empty": ([f"data.path={tmp_path / 'empty.csv'}"], "'{p}/empty.csv' is empty"),
        "no classes": ([f"data.path={tmp_path / 'nothing'}"], "folder '{p}/nothing' has no class subfolders"),
        "no path": ([], "data=text needs your data: data.path="),
    }


@pytest.mark.parametrize("case", ["column", "one class", "unseen", "not utf-8", "empty", "no classes", "no path"])
def test_bad_input_is_one_line_naming_the_fix(tmp_path, case):
    overrides, message = bad_input(tmp_path)[case]
    if case == "no path":  # refused while the config is checked, before any data is read
        with pytest.raises(UserError, match=message):
            compose_config(tmp_path, "data=text", *overrides)
        return
    with pytest.raises(UserError) as error:
        read(tmp_path, *overrides)
    assert str(error.value).startswith(message.format(p=tmp_path)), str(error.value)


def test_the_command_line_prints_a_data_error_in_one_line(tmp_path, cli):
    write_csv(tmp_path / "news.csv", topic_texts({"sport": 10, "tech": 10}), ("review", "stars"))
    result = cli("data=text", "data.path=news.csv")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "rnnlab: error: data.text_column 'text' is not in 'news.csv'; its columns are: review, stars "
        "(set data.text_column= and data.label_column=)")


def test_class_names_sort_numerically_where_they_are_numbers():
    assert class_order({"10", "2", "1", "neg"}) == ["1", "2", "10", "neg"]
