import json

import numpy as np
import pytest

from rnnlab.data.text import OOV_ID, PAD_ID, TextSettings, Tokenizer, Vocabulary, encode
from rnnlab.errors import UserError


def vocab_of(*words: str) -> Vocabulary:
    return Vocabulary(["<pad>", "<oov>", *words], Tokenizer())


def test_tokenizer_lowercases_strips_break_tags_and_keeps_apostrophes() -> None:
    text = "Great FILM.<br /><br />I didn't like the end<br/>2nd half<BR>ok"
    assert Tokenizer()(text) == ["great", "film", "i", "didn't", "like", "the", "end", "2nd", "half", "ok"]


def test_tokenizer_options() -> None:
    assert Tokenizer(lowercase=False, pattern=r"[A-Za-z]+")("Hi THERE<br />you") == ["Hi", "THERE", "you"]
    assert Tokenizer(pattern=r"\S+")("a-b  c!") == ["a-b", "c!"]
    assert Tokenizer()("") == []


@pytest.mark.parametrize("pattern", ["[a-z", "([a-z]+)"])
def test_bad_token_pattern_is_a_user_error(pattern: str) -> None:
    with pytest.raises(UserError, match="token_pattern"):
        Tokenizer(pattern=pattern)


def test_vocabulary_keeps_most_frequent_words_with_deterministic_ties() -> None:
    texts = ["b a c", "a b d", "a e"]  # a:3, b:2, then c, d, e tied at 1
    vocab = Vocabulary.build(texts, size=5, tokenizer=Tokenizer())
    assert vocab.words == ["<pad>", "<oov>", "a", "b", "c"]
    assert len(vocab) == 5
    assert vocab.ids(["a", "c", "e", "zzz"]) == [2, 4, OOV_ID, OOV_ID]


def test_vocabulary_breaks_ties_alphabetically_not_by_first_appearance() -> None:
    texts = ["zebra mango apple", "kiwi zebra mango apple kiwi"]  # kiwi, zebra, mango, apple: 2 each
    vocab = Vocabulary.build(texts, size=5, tokenizer=Tokenizer())
    assert vocab.words == ["<pad>", "<oov>", "apple", "kiwi", "mango"]
    assert Vocabulary.build(reversed(texts), size=5, tokenizer=Tokenizer()).words == vocab.words


def test_vocabulary_smaller_than_size_when_few_words() -> None:
    assert Vocabulary.build(["x y"], size=100, tokenizer=Tokenizer()).words == ["<pad>", "<oov>", "x", "y"]


def test_vocab_size_below_three_is_a_user_error() -> None:
    with pytest.raises(UserError, match="vocab_size"):
        Vocabulary.build(["a"], size=2, tokenizer=Tokenizer())


def test_vocabulary_round_trips_through_json() -> None:
    vocab = Vocabulary.build(["Hello world, hello!"], size=10, tokenizer=Tokenizer(lowercase=True, pattern=r"[a-z]+"))
    restored = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert restored.words == vocab.words
    assert (restored.tokenizer.lowercase, restored.tokenizer.pattern) == (True, r"[a-z]+")
    assert restored.ids(restored.tokenizer("HELLO there")) == [2, OOV_ID]


def test_damaged_vocabulary_is_refused() -> None:
    with pytest.raises(UserError, match="damaged"):
        Vocabulary.from_dict({"words": ["a", "b"], "lowercase": True, "token_pattern": "[a-z]+"})


@pytest.mark.parametrize(
    ("truncate", "pad", "expected"),
    [
        ("pre", "pre", [[4, 5, 6], [0, 2, 3]]),
        ("pre", "post", [[4, 5, 6], [2, 3, 0]]),
        ("post", "pre", [[2, 3, 4], [0, 2, 3]]),
        ("post", "post", [[2, 3, 4], [2, 3, 0]]),
    ],
)
def test_encode_truncates_and_pads_like_keras(truncate: str, pad: str, expected: list[list[int]]) -> None:
    vocab = vocab_of("a", "b", "c", "d", "e")
    tokens, lengths = encode(["a b c d e", "a b"], vocab, max_len=3, truncate=truncate, pad=pad)
    assert tokens.dtype == np.int64 and lengths.dtype == np.int64
    assert tokens.tolist() == expected
    assert lengths.tolist() == [3, 2]


def test_encode_maps_unknown_words_to_oov_and_empty_text_to_length_zero() -> None:
    tokens, lengths = encode(["a zzz<br />A", "", "<br />"], vocab_of("a"), max_len=4, truncate="pre", pad="post")
    assert tokens.tolist() == [[2, OOV_ID, 2, PAD_ID], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert lengths.tolist() == [3, 0, 0]


def test_encode_of_no_texts_has_the_right_shape() -> None:
    tokens, lengths = encode([], vocab_of("a"), max_len=5, truncate="pre", pad="pre")
    assert tokens.shape == (0, 5) and lengths.shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [({"max_len": 0}, "max_len"), ({"truncate": "middle"}, "truncate"), ({"pad": "left"}, "pad")],
)
def test_encode_rejects_bad_options(kwargs: dict, option: str) -> None:
    args = {"max_len": 3, "truncate": "pre", "pad": "post"} | kwargs
    with pytest.raises(UserError, match=option):
        encode(["a"], vocab_of("a"), **args)


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"vocab_size": 2}, "vocab_size"),
        ({"max_len": -1}, "max_len"),
        ({"pad": "both"}, "pad"),
        ({"token_pattern": "("}, "token_pattern"),
    ],
)
def test_text_settings_validate(kwargs: dict, option: str) -> None:
    with pytest.raises(UserError, match=option):
        TextSettings(**kwargs)
