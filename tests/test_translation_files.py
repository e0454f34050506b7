"""Translation from the user's pair file: reading, normalisation, filters, splits by source, multi-reference
scores, a model that learns a toy file, predict from the checkpoint alone, and every bad file in one line."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
import pytorch_lightning as pl

from conftest import compose_config, run_in_process
from rnnlab.errors import UserError
from rnnlab.models.config import ModelConfig
from rnnlab.run.predict import load_checkpoint, load_task
from rnnlab.run.predict import main as predict_main
from rnnlab.tasks.optimizer import OptimizerConfig
from rnnlab.tasks.translate.data import FILE_PAIRS, UNK, TranslateSpec, TranslationData
from rnnlab.tasks.translate.pair_file import TextForm, filter_pairs, read_pairs
from rnnlab.tasks.translate.report import TestRow as ScoredRow  # not a test class
from rnnlab.tasks.translate.report import bleu_metric, bleu_text, by_length
from rnnlab.tasks.translate.schema import TranslationDataConfig
from rnnlab.tasks.translate.task import Seq2SeqTask

ATTRIBUTION = "CC-BY 2.0 (France) Attribution: tatoeba.org #1 (CK) & #2 (sacredceltic)"
# English -> French, one word for one word: the toy language a model learns (accents on the French side)
WORDS = {"cat": "chat", "dog": "chien", "coffee": "café", "summer": "été", "student": "élève", "big": "grand",
         "small": "petit", "sees": "voit", "eats": "mange", "red": "rouge"}


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def tatoeba_lines() -> list[str]:
    """fra.txt's layout: English TAB French TAB attribution; a duplicate pair, a source with two translations."""
    return [
        f"Go.\tVa !\t{ATTRIBUTION}",
        f"Go.\tMarche.\t{ATTRIBUTION}",  # a second translation of the same source
        f"I'm happy.\tJe suis content.\t{ATTRIBUTION}",
        f"I'm happy.\tJe suis content.\t{ATTRIBUTION}",  # the same pair again: dropped
        f"He's  Zoë's friend!\tC'est l'ami de Zoë !\t{ATTRIBUTION}",
        "",  # blank lines are skipped
        "We are late.\tNous sommes en retard.",  # no attribution column: fine too
    ]


def toy_lines(count: int, seed: int = 0, translations: int = 1) -> list[str]:
    """`count` English sentences of 2-5 words, each with `translations` French ones (the word mapping; a second
    translation ends with '!' instead of '.'), in fra.txt's layout."""
    rng, seen, lines = random.Random(seed), set(), []
    while len(seen) < count:
        words = tuple(rng.choice(list(WORDS)) for _ in range(rng.randint(2, 5)))
        if words in seen:
            continue
        seen.add(words)
        english, french = " ".join(words).capitalize(), " ".join(WORDS[w] for w in words).capitalize()
        lines += [f"{english}.\t{french}{end}\t{ATTRIBUTION}" for end in (".", " !")[:translations]]
    return lines


def file_config(path: Path, **changes) -> TranslationDataConfig:
    return replace(TranslationDataConfig(path=str(path), batch_size=16, embedding_dim=8), **changes)


def file_data(path: Path, seed: int = 0, **changes) -> TranslationData:
    data = TranslationData(file_config(path, **changes), seed)
    data.setup()
    return data


def test_normalisation_follows_the_tutorial_and_each_step_can_be_turned_off():
    text = "Ça va?  J'ai 2 chats."
    assert TextForm().normalize(text) == "ca va ? j ai 2 chats ."
    assert TextForm(unicode_to_ascii=False).normalize(text) == "ça va ? j ai 2 chats ."
    assert TextForm(lowercase=False).normalize(text) == "Ca va ? J ai 2 chats ."
    assert TextForm(split_punctuation=False).normalize(text) == "ca va? j ai 2 chats."
    assert TextForm(drop_symbols=False).normalize(text) == "ca va ? j'ai 2 chats ."
    assert TextForm().tokenize(text) == ["ca", "va", "?", "j", "ai", "2", "chats", "."]
    assert TextForm(tokens="char").tokenize("Oui!") == ["o", "u", "i", " ", "!"]
    assert TextForm(tokens="char").join(["o", "u", "i", " ", "!"]) == "oui !"


def test_reader_takes_two_columns_ignores_the_attribution_and_reverse_swaps_them(tmp_path):
    path = write_lines(tmp_path / "fra.txt", tatoeba_lines())
    pairs = read_pairs(path, TextForm(), reverse=False)
    assert len(pairs) == 6  # the blank line skipped
    assert pairs[0] == (["go", "."], ["va", "!"])
    assert pairs[4] == (["he", "s", "zoe", "s", "friend", "!"], ["c", "est", "l", "ami", "de", "zoe", "!"])
    assert read_pairs(path, TextForm(), reverse=True)[2] == (["je", "suis", "content", "."], ["i", "m", "happy", "."])
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes("\ufeffGo.\tVa !\r\nHi.\tSalut !\r\n".encode())  # a byte-order mark and Windows line ends
    assert read_pairs(crlf, TextForm(), reverse=False) == [(["go", "."], ["va", "!"]), (["hi", "."], ["salut", "!"])]


def test_filters_keep_lengths_and_prefixes_and_drop_duplicate_pairs(tmp_path):
    path = write_lines(tmp_path / "fra.txt", tatoeba_lines())
    form = TextForm()
    pairs = read_pairs(path, form, reverse=True)  # French -> English, as the tutorial preset
    assert len(filter_pairs(pairs, path, form, None, None, [], "target")) == 5  # one duplicate dropped
    assert [s for s, _ in filter_pairs(pairs, path, form, None, 4, [], "target")] == [
        ["va", "!"], ["marche", "."], ["je", "suis", "content", "."]]
    assert [s for s, _ in filter_pairs(pairs, path, form, 5, None, [], "target")] == [
        ["c", "est", "l", "ami", "de", "zoe", "!"]]  # both sides count: "we are late ." has 4 tokens
    kept = filter_pairs(pairs, path, form, None, None, ["i m ", "he s ", "we are"], "target")
    assert [form.join(t) for _, t in kept] == ["i m happy .", "he s zoe s friend !", "we are late ."]
    assert [form.join(s) for s, _ in filter_pairs(pairs, path, form, None, None, ["va"], "source")] == ["va !"]


def test_splits_hold_each_source_once_with_all_its_translations(tmp_path):
    path = write_lines(tmp_path / "pairs.txt", toy_lines(200, translations=2))
    data = file_data(path)
    sources = {split: [tuple(s) for s, _ in data.sets[split].pairs] for split in ("train", "val", "test")}
    assert len(set(sources["val"])) == len(sources["val"]) == 20 and len(sources["test"]) == 20
    assert len(sources["train"]) == 2 * 160  # training keeps both translations of each of its sources
    assert not set(sources["train"]) & set(sources["val"]) and not set(sources["train"]) & set(sources["test"])
    assert not set(sources["val"]) & set(sources["test"])
    for references in data.sets["test"].references:
        assert [r[-1] for r in references] == [".", "!"]  # both translations are references
    assert data.spec.pairs == FILE_PAIRS and data.spec.text_form == {
        "tokens": "word", "unicode_to_ascii": True, "lowercase": True, "split_punctuation": True,
        "drop_symbols": True}
    assert data.spec.source_vocab[:4] == ["<pad>", "<s>", "</s>", UNK]
    other = file_data(path, seed=1)
    assert [s for s, _ in other.sets["test"].pairs] != [s for s, _ in data.sets["test"].pairs]  # drawn by the seed


def test_character_tokens_read_and_write_the_normalised_sentence(tmp_path):
    data = file_data(write_lines(tmp_path / "pairs.txt", toy_lines(40)), tokens="char", reverse=True)
    assert {" ", "e", "."} <= set(data.spec.source_vocab) and "cafe" not in data.spec.source_vocab
    source, target = data.sets["train"].pairs[0]
    assert all(len(token) == 1 for token in source + target)
    assert bleu_text(data.spec, target) == data.spec.target_text(target) == "".join(target)  # BLEU counts its words


def test_vocabularies_come_from_training_and_rare_tokens_become_unknown(tmp_path):
    path = write_lines(tmp_path / "pairs.txt", toy_lines(150) + [f"Zebra cat.\tZèbre chat.\t{ATTRIBUTION}"])
    data = file_data(path, min_count=2)
    train_words = [t for s, _ in data.sets["train"].pairs for t in s]
    assert set(data.spec.source_vocab[4:]) == {t for t in train_words if train_words.count(t) >= 2}
    assert "zebra" not in data.spec.source_vocab and "zebre" not in data.spec.target_vocab
    unknown_id = data.spec.target_vocab.index(UNK)
    for split in ("train", "val", "test"):
        for i, (source, _) in enumerate(data.sets[split].pairs):
            if "zebra" in source:
                assert data.sets[split].sources[i][0] == data.spec.source_vocab.index(UNK)
                assert data.sets[split].targets[i][0] == unknown_id
                assert data.sets[split].references[i] == [["zebre", "chat", "."]]  # scored on the real word


def test_bleu_and_exact_match_count_every_reference():
    spec = TranslateSpec(FILE_PAIRS, [], [], 8, 5, text_form={})
    references = [["je", "suis", "content", "."], ["je", "suis", "heureux", "."]]
    metric = bleu_metric(spec)
    metric.update([bleu_text(spec, references[1])], [[bleu_text(spec, r) for r in references]])
    assert float(metric.compute()) == pytest.approx(1.0)  # sacreBLEU's 100, on torchmetrics' 0-1 scale
    single = bleu_metric(spec)
    single.update([bleu_text(spec, references[1])], [[bleu_text(spec, references[0])]])
    assert float(single.compute()) < 0.5
    row = ScoredRow(0, 3, references[1], references)
    assert row.correct and by_length([row], spec)[0]["bleu"] == pytest.approx(1.0)
    assert row.example([(["i", "m", "happy", "."], references[0])], spec)["reference"] == (
        "je suis content . / je suis heureux .")


def test_validation_scores_a_translation_against_all_references_of_its_source(tmp_path, monkeypatch):
    """A model that always answers a source's second translation (never its teacher-forced first one) has every
    validation pair exactly right and BLEU 1."""
    data = file_data(write_lines(tmp_path / "pairs.txt", toy_lines(60, translations=2)))
    task = Seq2SeqTask(ModelConfig(hidden_size=8), OptimizerConfig(), data.spec)
    index = {token: i for i, token in enumerate(data.spec.target_vocab)}
    references, size = data.sets["val"].references, data.cfg.batch_size
    batches = [references[start : start + size] for start in range(0, len(references), size)]  # in loader order

    def second_reference(source, lengths):
        return [[index[token] for token in refs[1]] for refs in batches.pop(0)], None

    monkeypatch.setattr(task, "greedy", second_reference)
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=tmp_path)
    metrics = trainer.validate(task, datamodule=data, verbose=False)[0]
    assert metrics["val/exact_match"] == 1.0 and metrics["val/bleu"] == pytest.approx(1.0)
    assert metrics["val/token_acc"] < 1.0  # the untrained decoder: teacher-forced scores are not the point here


def test_attention_model_learns_a_toy_pair_file_and_predict_translates_from_the_checkpoint(tmp_path, capsys):
    path = write_lines(tmp_path / "fra.txt", toy_lines(400))
    metrics, run_dir = run_in_process(
        tmp_path, "data=translation", f"data.path={path}", "data.reverse=true", "model=attention",
        "model.hidden_size=32", "data.embedding_dim=16", "data.batch_size=32", "trainer.max_epochs=15",
        "optimizer.lr=0.01", "trainer.num_threads=1", "decode.beam_size=2", "logger=none",
    )
    scores = metrics["metrics"]
    # 0.85-0.95 over seeds 0-2; copying the source shares only its final "." with the reference
    assert scores["test/exact_match"] >= 0.7 and scores["test/bleu"] >= 0.8, scores
    assert metrics["task"] == "translate"
    assert "| source | reference | prediction | correct |" in (run_dir / "translations.md").read_text()

    task = load_task(load_checkpoint(run_dir / "checkpoints" / "best.ckpt"))  # the checkpoint alone
    assert task.spec.text_form["unicode_to_ascii"] and task.spec.pairs == FILE_PAIRS
    capsys.readouterr()
    predict_main([f"ckpt={run_dir / 'checkpoints' / 'best.ckpt'}", "text=Chat MANGE café."])  # normalised first
    assert capsys.readouterr().out == "cat eats coffee .\tChat MANGE café.\n"
    sentences = write_lines(tmp_path / "sentences.txt", ["Grand chien.", "Élève voit été."])
    predict_main([f"ckpt={run_dir / 'checkpoints' / 'best.ckpt'}", f"file={sentences}"])
    assert capsys.readouterr().out == "big dog .\tGrand chien.\nstudent sees summer .\tÉlève voit été.\n"
    json.dumps(metrics["report"]["examples"])  # the examples are plain data


def test_the_tutorial_preset_keeps_short_french_sentences_with_english_prefixes(tmp_path):
    lines = [f"I'm {w}.\tJe suis {WORDS[w]}.\t{ATTRIBUTION}" for w in WORDS]
    lines += [f"He's {w}.\tIl est {WORDS[w]}.\t{ATTRIBUTION}" for w in WORDS]
    lines += [f"The {w} is here.\tLe {WORDS[w]} est ici.\t{ATTRIBUTION}" for w in WORDS]  # no prefix: dropped
    lines += [f"I am a very very very very very {w} cat.\tJe suis un très très très très très {WORDS[w]} chat."
              for w in WORDS]  # too long: dropped
    path = write_lines(tmp_path / "eng-fra.txt", lines)
    config, _ = compose_config(tmp_path, "experiment=translation_tutorial", f"data.path={path}")
    assert (config.model.cell, config.model.attention, config.model.hidden_size) == ("gru", "bahdanau", 128)
    data = TranslationData(config.data, config.seed)
    data.setup()
    kept = [pair for split in ("train", "val", "test") for pair in data.sets[split].pairs]
    assert len(kept) == 20
    assert all(" ".join(target).startswith(("i m ", "he s ")) and source[0] in ("je", "il") for source, target in kept)
    with pytest.raises(UserError, match="data.reverse, data.prefixes are for a pair file, but data.path is null"):
        compose_config(tmp_path, "experiment=translation_tutorial")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tokens": "words"}, "data.tokens='words' is not valid; choose one of word, char"),
        ({"prefix_side": "english"}, "data.prefix_side='english' is not valid; choose one of source, target"),
        ({"min_count": 0}, "data.min_count=0 is too small"),
        ({"min_len": 5, "max_len": 4}, "data.min_len=5 is greater than data.max_len=4"),
        ({"val_fraction": 0.0}, "data.val_fraction=0 leaves that split empty"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "leaves nothing to train on"),
    ],
)
def test_impossible_file_settings_are_refused(tmp_path, changes, message):
    with pytest.raises(UserError, match=message):
        file_config(tmp_path / "pairs.txt", **changes).check()


def bad_files(tmp_path: Path) -> dict[str, tuple[Path, list[str], str]]:
    """name -> (file, extra overrides, the error it must give)."""
    good = toy_lines(30)
    no_tab = write_lines(tmp_path / "no_tab.txt", [*good[:4], "Hello there.  Salut.", *good[4:]])
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("\n".join(good[:2]).encode() + "\nCafé.\tCafé.\n".encode("latin-1"))
    offset = len("\n".join(good[:2]).encode()) + 4
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    short = write_lines(tmp_path / "short.txt", good)
    return {
        "no tab": (no_tab, [], f"{no_tab}:5 has no tab ('Hello there.  Salut.'); each line needs a source, a TAB"),
        "not UTF-8": (latin1, [], f"{latin1} is not UTF-8 text: byte {offset} (0xe9, line 3) cannot be decoded"),
        "empty": (empty, [], f"{empty} holds no sentence pairs (it is empty or blank)"),
        "missing": (tmp_path / "nowhere.txt", [], f"data.path '{tmp_path / 'nowhere.txt'}' does not exist"),
        "filtered away": (short, ["data.max_len=2"], f"{short}: no pair is left after data.max_len=2 (each side at "
                                                     "most 2 tokens), of 30 before it; raise data.max_len"),
        "prefixes match nothing": (short, ["data.prefixes=[xyz]"], "no pair is left after data.prefixes"),
        "too few sources": (write_lines(tmp_path / "two.txt", good[:2]), [], "has 2 distinct source sentences after "
                                                                             "filtering, too few for train"),
    }


@pytest.mark.parametrize("case", ["no tab", "not UTF-8", "empty", "missing", "filtered away", "prefixes match nothing",
                                  "too few sources"])
def test_a_bad_pair_file_is_a_user_error_naming_the_cause(tmp_path, case):
    path, overrides, message = bad_files(tmp_path)[case]
    config, _ = compose_config(tmp_path, "data=translation", f"data.path={path}", *overrides)
    with pytest.raises(UserError) as error:
        TranslationData(config.data, config.seed).setup()
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("case", ["no tab", "not UTF-8"])  # the same path for every UserError of the data
def test_a_bad_pair_file_ends_the_command_with_one_line_and_no_traceback(cli, tmp_path, case):
    path, overrides, message = bad_files(tmp_path)[case]
    result = cli("data=translation", f"data.path={path}", *overrides)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("rnnlab: error: ") and message in lines[-1]
    assert "Traceback" not in result.stderr + result.stdout
    assert not list((tmp_path / "logs").rglob(".hydra"))
