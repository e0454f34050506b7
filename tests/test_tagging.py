"""Sequence tagging: the readers, the metrics a user compares, the CRF, a tagger that learns, predict, and the
mistakes a user can make."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from conftest import compose_config, run_in_process
from rnnlab.data.archive import sha256_file
from rnnlab.errors import UserError
from rnnlab.models.crf import LinearChainCRF
from rnnlab.run.predict import main as predict_main
from rnnlab.tasks.tagging.conll import Sentence, find_splits, read_columns, read_conllu
from rnnlab.tasks.tagging.data import UNK
from rnnlab.tasks.tagging.predict import tokenize
from rnnlab.tasks.tagging.report import baseline_predictions, bio_spans, span_scores, tag_scores
from rnnlab.tasks.tagging.schema import TaggingDataConfig
from rnnlab.tasks.tagging.treebank import FILES, default_treebank

CONLLU = """# newdoc id = d1
# sent_id = 1
# text = I can't go.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tcan't\t_\t_\t_\t_\t_\t_\t_\t_
2\tca\tcan\tAUX\tMD\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_
4.1\tgone\t_\t_\t_\t_\t_\t_\t_\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\tYes\tyes\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def test_conllu_reader_skips_comments_multiword_tokens_and_empty_nodes(tmp_path):
    path = tmp_path / "a.conllu"
    path.write_text(CONLLU)
    assert read_conllu(path, "upos") == [Sentence(("I", "ca", "n't", "go", "."), ("PRON", "AUX", "PART", "VERB",
                                                                                   "PUNCT")),
                                         Sentence(("Yes",), ("INTJ",))]
    assert read_conllu(path, "xpos")[0].tags == ("PRP", "MD", "RB", "VB", ".")


def test_column_reader_takes_the_token_first_and_the_tag_last(tmp_path):
    path = tmp_path / "ner.txt"
    path.write_text("-DOCSTART- -X- O O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter\tB-PER\nBlackburn\tI-PER\n")
    assert read_columns(path) == [Sentence(("EU", "rejects"), ("B-ORG", "O")),
                                  Sentence(("Peter", "Blackburn"), ("B-PER", "I-PER"))]


def test_a_folder_is_read_as_its_train_dev_and_test_files(tmp_path):
    for split in ("train", "dev", "test"):
        (tmp_path / f"en_ewt-ud-{split}.conllu").write_text(CONLLU)
    (tmp_path / "LICENSE.txt").write_text("license")
    assert {split: path.name for split, path in find_splits(tmp_path).items()} == {
        "train": "en_ewt-ud-train.conllu", "val": "en_ewt-ud-dev.conllu", "test": "en_ewt-ud-test.conllu"}


def test_bio_spans_are_read_as_conlleval_reads_them():
    # B-PER I-PER: one span; a lone I-LOC starts a span; I-ORG after B-LOC starts another; O ends spans
    assert bio_spans(["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "I-ORG", "O"]) == {
        ("PER", 0, 2), ("LOC", 3, 5), ("LOC", 5, 6), ("ORG", 6, 7)}
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    predicted = [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "O"]]  # PER cut short: 2 of 3 predicted spans right
    assert span_scores(gold, predicted) == pytest.approx({"span_precision": 2 / 3, "span_recall": 2 / 3,
                                                          "span_f1": 2 / 3})


def test_accuracy_on_unseen_tokens_counts_only_those_tokens():
    gold = [["DET", "NOUN", "VERB"], ["NOUN"]]
    predicted = [["DET", "VERB", "VERB"], ["NOUN"]]
    unseen = [[False, True, False], [True]]  # the model got 1 of its 2 unseen tokens right
    scores = tag_scores(gold, predicted, ["DET", "NOUN", "VERB"], unseen)
    assert scores["acc"] == pytest.approx(3 / 4) and scores["unseen_acc"] == pytest.approx(1 / 2)
    assert scores["unseen_share"] == pytest.approx(2 / 4) and scores["exact_match"] == pytest.approx(1 / 2)
    assert scores["per_tag"]["NOUN"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})


def test_most_frequent_tag_baseline_uses_lowercased_words_and_the_commonest_tag_for_unseen_ones():
    train = [Sentence(("The", "can", "can"), ("DET", "AUX", "NOUN")), Sentence(("the", "can"), ("DET", "NOUN"))]
    assert baseline_predictions(train, [Sentence(("THE", "can", "zebra"), ("", "", ""))]) == [["DET", "NOUN",
                                                                                                "DET"]]


def test_the_crf_scores_and_decodes_as_brute_force_does():
    torch.manual_seed(0)
    crf = LinearChainCRF(3)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_()
    emissions = torch.randn(2, 4, 3)
    mask = torch.tensor([[True] * 4, [True, True, True, False]])
    for row in range(2):
        length = int(mask[row].sum())
        scores = {}
        for tags in itertools.product(range(3), repeat=length):
            padded = torch.tensor([[*tags] + [0] * (4 - length)])
            scores[tags] = -crf.nll(emissions[row : row + 1], padded, mask[row : row + 1]).item()  # log p
        total = torch.logsumexp(torch.tensor(list(scores.values())), 0)
        assert float(total) == pytest.approx(0.0, abs=1e-5)  # the probabilities of all sequences sum to 1
        best = max(scores, key=scores.get)
        assert crf.decode(emissions, mask)[row, :length].tolist() == list(best)


def both_sides_rule(count: int, seed: int) -> list[Sentence]:
    """A word is tagged X when the word before it is `a` or the word after it is `b`, else Y: a tagger that
    reads only one direction cannot tell."""
    rng = random.Random(seed)
    sentences = []
    for _ in range(count):
        words = [rng.choice("abcd") for _ in range(rng.randint(3, 9))]
        tags = ["X" if (i > 0 and words[i - 1] == "a") or (i + 1 < len(words) and words[i + 1] == "b") else "Y"
                for i in range(len(words))]
        sentences.append(Sentence(tuple(words), tuple(tags)))
    return sentences


def write_columns(path: Path, sentences: list[Sentence]) -> Path:
    path.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(s.words, s.tags)) for s in sentences) + "\n")
    return path


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("toy")
    for split, count, seed in (("train", 600, 0), ("dev", 100, 1), ("test", 200, 2)):
        write_columns(folder / f"toy-{split}.tsv", both_sides_rule(count, seed))
    return folder


TOY = ("data=tagging", "data.embedding_dim=16", "data.word_dropout=0", "data.dropout=0", "model.hidden_size=24",
       "trainer.max_epochs=12", "callbacks.early_stopping=false", "optimizer.lr=0.01", "trainer.num_threads=1",
       "logger=none")


@pytest.mark.parametrize("model, crf", [("bigru", "false"), ("bilstm", "true")])
def test_a_bidirectional_tagger_learns_a_rule_that_needs_both_sides(toy_data, tmp_path, model, crf):
    results, _ = run_in_process(tmp_path, *TOY, f"data.path={toy_data}", f"model={model}", f"data.crf={crf}")
    assert results["metrics"]["test/acc"] > 0.97
    assert results["metrics"]["test/baseline_acc"] < 0.8


def test_a_one_directional_tagger_cannot_reach_the_rule(toy_data, tmp_path):
    results, _ = run_in_process(tmp_path, *TOY, f"data.path={toy_data}", "model=gru")
    assert results["metrics"]["test/acc"] < 0.93


def test_predict_tags_a_sentence_word_by_word(toy_data, tmp_path, capsys):
    _, run_dir = run_in_process(tmp_path, *TOY, f"data.path={toy_data}", "model=bigru")
    predict_main([f"ckpt={run_dir / 'checkpoints' / 'best.ckpt'}", "text=a c b d c"])
    assert capsys.readouterr().out.strip().splitlines()[-1] == "a/Y c/X b/Y d/Y c/Y"


def test_the_tokenizer_splits_punctuation_and_contractions():
    assert tokenize("Don't stop, it's 3.5 km.") == ["Do", "n't", "stop", ",", "it", "'s", "3.5", "km", "."]


def test_a_file_that_is_not_conllu_names_the_file_and_line(tmp_path):
    path = tmp_path / "x.conllu"
    path.write_text("# comment\n1\tword\tNOUN\n")
    with pytest.raises(UserError, match=r"x.conllu:2 has 3 tab-separated columns where CoNLL-U has 10"):
        read_conllu(path, "upos")


@pytest.mark.parametrize("overrides, message", [
    (("data.tag_column=lemma",), "data.tag_column='lemma' is not valid; choose one of upos, xpos"),
    (("data.path=x", "model=attention"), "attention pooling or pooling over the sentence"),
])
def test_bad_tagging_settings_are_one_line_errors(tmp_path, overrides, message):
    with pytest.raises(UserError, match=message):
        compose_config(tmp_path, "data=tagging", *overrides)


def test_an_empty_split_and_a_missing_split_are_named(tmp_path):
    for split in ("train", "dev"):
        write_columns(tmp_path / f"t-{split}.tsv", both_sides_rule(5, 0))
    (tmp_path / "t-test.tsv").write_text("\n\n")
    with pytest.raises(UserError, match="t-test.tsv holds no sentences"):
        run_in_process(tmp_path, "data=tagging", f"data.path={tmp_path}")
    (tmp_path / "t-test.tsv").unlink()
    with pytest.raises(UserError, match="needs one test file"):
        run_in_process(tmp_path, "data=tagging", f"data.path={tmp_path}")


def test_test_tags_never_seen_in_training_are_counted_not_a_crash(toy_data, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for split in ("train", "dev"):
        (folder / f"toy-{split}.tsv").write_text((toy_data / f"toy-{split}.tsv").read_text())
    test = both_sides_rule(20, 3)
    test[0] = Sentence(test[0].words, ("Z",) + test[0].tags[1:])
    write_columns(folder / "toy-test.tsv", test)
    results, _ = run_in_process(tmp_path, *TOY, f"data.path={folder}", "model=bigru", "trainer.max_epochs=1")
    assert results["report"]["unseen_tags"] == {"Z": 1}


def test_without_files_the_default_treebank_comes_from_the_cache_or_a_checked_download(tmp_path):
    source = tmp_path / "release"
    source.mkdir()
    for name in FILES.values():
        (source / name).write_text(CONLLU)
    digest = sha256_file(source / FILES["test"])
    cfg = TaggingDataConfig(cache_dir=str(tmp_path / "cache"), url=source.as_uri(), sha256={"test": digest})
    paths = default_treebank(cfg)
    assert all(path.read_text() == CONLLU and path.parent == tmp_path / "cache" / "ud_english_ewt"
               for path in paths.values())
    (source / FILES["train"]).unlink()
    assert default_treebank(cfg) == paths  # cached: no download
    with pytest.raises(UserError, match="no treebank found locally and could not download .*en_ewt-ud-train"):
        default_treebank(replace(cfg, cache_dir=str(tmp_path / "gone")))
    (source / FILES["train"]).write_text(CONLLU)
    with pytest.raises(UserError, match="no treebank found locally and .*(checksum|SHA)"):
        default_treebank(replace(cfg, cache_dir=str(tmp_path / "other"), sha256={"test": "0" * 64}))
    with pytest.raises(UserError, match="downloading is off; copy UD_English-EWT's en_ewt-ud-train.conllu"):
        default_treebank(replace(cfg, cache_dir=str(tmp_path / "empty"), download=False))


def test_frequency_word_dropout_drops_rare_words_often_and_frequent_ones_rarely(toy_data, tmp_path):
    from rnnlab.run.build import build_data, build_task

    config, _ = compose_config(tmp_path, *TOY, f"data.path={toy_data}", "model=bigru", "data.word_dropout=0.25",
                               "data.word_dropout_mode=frequency")
    data = build_data(config)
    data.setup("fit")
    task = build_task(config, data.spec).train()
    counts = torch.tensor(data.spec.word_counts, dtype=torch.float32)
    assert counts[0] == counts[1] == 0 and counts[2] == max(data.train_words.values())  # pad, unk, most frequent
    torch.testing.assert_close(task.drop_probability, 0.25 / (0.25 + counts))
    words = torch.tensor([[2] * 4000, [len(data.spec.words) - 1] * 4000])  # the most frequent word, a rare one
    seen = []
    task.word_embedding.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    task.emissions(words, torch.tensor([4000, 4000]), torch.zeros(2, 4000, 1, dtype=torch.long))
    dropped = (seen[0] == UNK).float().mean(dim=1)
    rare = 0.25 / (0.25 + counts[-1])
    assert dropped[0] < 0.01 and abs(dropped[1] - rare) < 0.05


def test_loss_per_word_weighs_a_word_the_same_in_batches_of_short_and_of_long_sentences(toy_data, tmp_path):
    from rnnlab.run.build import build_data, build_task

    config, _ = compose_config(tmp_path, *TOY, f"data.path={toy_data}", "model=bigru", "data.loss_per=word",
                               "data.batch_size=8")
    data = build_data(config)
    data.setup("fit")
    train = data.sets["train"]
    assert data.spec.words_per_batch == pytest.approx(int(train.lengths.sum()) / -(-len(train) // 8))
    task = build_task(config, data.spec).eval()  # no dropout: the same scores in both calls
    for batch in itertools.islice(data.train_dataloader(), 5):
        words = int(batch[1].sum())
        trained, _ = task._loss(batch, training=True)
        mean, _ = task._loss(batch)  # validation: the batch's mean per word, as before
        assert float(trained) == pytest.approx(float(mean) * words / data.spec.words_per_batch, rel=1e-5)


@pytest.mark.parametrize("lowercase", [False, True])
def test_lowercase_gives_a_word_seen_in_another_case_its_vector_and_keeps_the_case_in_characters(tmp_path,
                                                                                                   lowercase):
    from rnnlab.tasks.tagging.data import TaggingData

    train = [Sentence(("The", "dog", "barks"), ("DET", "NOUN", "VERB")), Sentence(("the", "Dog"), ("DET", "NOUN"))]
    files = {split: write_columns(tmp_path / f"{split}.tsv", sentences) for split, sentences in
             (("train", train), ("val", train), ("test", [Sentence(("THE", "DOG", "cat"), ("DET", "NOUN", "NOUN"))]))}
    data = TaggingData(TaggingDataConfig(train=str(files["train"]), val=str(files["val"]), test=str(files["test"]),
                                         lowercase=lowercase), seed=0)
    data.setup()
    words, chars = data.sets["test"].words[0].tolist(), data.sets["test"].chars[0]
    if lowercase:
        assert data.spec.words[2:] == ["dog", "the", "barks"]  # counts of both cases together
        assert [data.spec.words[i] for i in words[:2]] == ["the", "dog"] and words[2] == UNK
    else:
        assert data.spec.words[2:] == ["Dog", "The", "barks", "dog", "the"]
        assert words == [UNK, UNK, UNK]
    assert [data.spec.chars[i] for i in chars[1].tolist()] == ["D", "<unk>", "<unk>"]  # "DOG": capitals kept


@pytest.mark.parametrize("kind", ["lstm", "cnn"])
def test_the_character_encoder_gives_each_word_the_vector_it_gets_alone(kind):
    from rnnlab.models.char_encoder import CharWordEncoder

    torch.manual_seed(0)
    encoder = CharWordEncoder(kind, 12, 8, 6).eval()
    spellings = [[3, 4, 5], [6, 7], [3, 4, 5], [8], [6, 7], [9, 10, 11, 3]]  # repeated words, in and across sentences
    chars = torch.zeros(2, 4, 4, dtype=torch.long)  # sentence 2 has 2 words and 2 padding positions
    for (sentence, position), spelling in zip([(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)], spellings):
        chars[sentence, position, : len(spelling)] = torch.tensor(spelling)
    out = encoder(chars)
    alone = [encoder(torch.tensor(spelling).view(1, 1, -1))[0, 0] for spelling in spellings]
    torch.testing.assert_close(out[chars[:, :, 0] != 0], torch.stack(alone))
    assert out[1, 2:].abs().sum() == 0  # padding positions stay zero
