"""Reading tagged sentences: CoNLL-U (Universal Dependencies) and the token-TAB-tag layout of CoNLL NER/chunking."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rnnlab.errors import UserError

CONLLU_COLUMNS = 10
TAG_INDEX = {"upos": 3, "xpos": 4}


@dataclass(frozen=True)
class Sentence:
    words: tuple[str, ...]
    tags: tuple[str, ...]


def _lines(path: Path) -> list[str]:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise UserError(f"{path} is not UTF-8 text: byte {error.start} cannot be decoded; convert it to UTF-8") \
            from None


def read_conllu(path: Path, tag_column: str) -> list[Sentence]:
    """Sentences of a CoNLL-U file: comment lines, multiword-token lines (`1-2`) and empty nodes (`8.1`) skipped."""
    sentences, words, tags = [], [], []
    for number, line in enumerate(_lines(path), start=1):
        if not line.strip():
            if words:
                sentences.append(Sentence(tuple(words), tuple(tags)))
            words, tags = [], []
            continue
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != CONLLU_COLUMNS:
            raise UserError(f"{path}:{number} has {len(fields)} tab-separated columns where CoNLL-U has "
                            f"{CONLLU_COLUMNS}; give a CoNLL-U file, or data.format=columns for token-TAB-tag lines")
        if "-" in fields[0] or "." in fields[0]:
            continue
        words.append(fields[1])
        tags.append(fields[TAG_INDEX[tag_column]])
    if words:
        sentences.append(Sentence(tuple(words), tuple(tags)))
    return sentences


def read_columns(path: Path) -> list[Sentence]:
    """Sentences of a column file: the token first, its tag last (tab- or space-separated), blank lines between
    sentences; CoNLL-2003's `-DOCSTART-` lines skipped."""
    sentences, words, tags = [], [], []
    for number, line in enumerate(_lines(path), start=1):
        fields = line.split("\t") if "\t" in line else line.split()
        if not line.strip() or fields[0] == "-DOCSTART-":
            if words:
                sentences.append(Sentence(tuple(words), tuple(tags)))
            words, tags = [], []
            continue
        if len(fields) < 2:
            raise UserError(f"{path}:{number} has one column ({line.strip()!r}); each line needs a token and its tag, "
                            "separated by a tab")
        words.append(fields[0])
        tags.append(fields[-1])
    if words:
        sentences.append(Sentence(tuple(words), tuple(tags)))
    return sentences


def read_sentences(path: Path, file_format: str, tag_column: str) -> list[Sentence]:
    if not path.is_file():
        raise UserError(f"'{path}' does not exist; give a CoNLL-U (.conllu) or token-TAB-tag file")
    kind = file_format if file_format != "auto" else ("conllu" if path.suffix == ".conllu" else "columns")
    sentences = read_conllu(path, tag_column) if kind == "conllu" else read_columns(path)
    if not sentences:
        raise UserError(f"{path} holds no sentences; give a file with tagged tokens (blank lines between sentences)")
    return sentences


SPLIT_NAMES = {"train": ("train",), "val": ("dev", "val", "valid"), "test": ("test",)}


def find_splits(folder: Path) -> dict[str, Path]:
    """The train, dev and test files of a folder: `*-train.conllu` etc. (UD), or names holding train/dev/test."""
    if not folder.is_dir():
        raise UserError(f"data.path '{folder}' is not a folder; give the folder holding the *-train/-dev/-test "
                        "files, or name them with data.train=, data.val=, data.test=")
    files = sorted(path for path in folder.iterdir() if path.is_file() and path.suffix in (".conllu", ".txt", ".tsv",
                                                                                              ".conll", ".bio"))
    found = {}
    for split, names in SPLIT_NAMES.items():
        matches = [path for path in files if any(name in path.stem.lower().replace("_", "-").split("-")
                                                 or path.stem.lower() == name for name in names)]
        if len(matches) != 1:
            what = "none" if not matches else ", ".join(path.name for path in matches)
            raise UserError(f"{folder} needs one {split} file (a name holding {' or '.join(names)}), found {what}; "
                            f"name it with data.{split}=<file>")
        found[split] = matches[0]
    return found
