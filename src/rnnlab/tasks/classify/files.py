"""Reading a user's labelled texts: CSV or TSV, JSONL, or a folder per class; whole splits where the files give them.

    data.path=reviews.csv                      one file (CSV/TSV: a header line; JSONL: one object a line)
    data.train=a.csv data.val=b.csv data.test=c.csv    the splits named
    data.path=folder/   holding train.csv, val.csv (or dev/valid/validation), test.csv (or .tsv, .jsonl)
                        or <class>/*.txt (a folder per class), or {train,test}/<class>/*.txt (IMDB's layout)

Every failure a user can fix is a one-line `UserError` naming the file (and the byte, line or column).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from rnnlab.errors import UserError
from rnnlab.tasks.classify.schema import ClassifyDataConfig

SPLITS = ("train", "val", "test")
SPLIT_NAMES = {"train": ("train",), "val": ("val", "dev", "valid", "validation"), "test": ("test",)}
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
SNIFF_BYTES = 64 * 1024
DELIMITERS = ",;\t|"  # what the sniffer may pick (else any letter of the text could win)


@dataclass
class LabelledTexts:
    """Texts and their class names, in file order, and where they came from (for messages)."""

    source: str
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


def read_labelled_files(cfg: ClassifyDataConfig) -> dict[str, LabelledTexts]:
    """`train`, and `val`/`test` where the files give them (else they are carved from train)."""
    named = {split: Path(getattr(cfg, split)).expanduser() for split in SPLITS if getattr(cfg, split)}
    if cfg.path is not None:
        path = Path(cfg.path).expanduser()
        if not path.exists():
            raise UserError(f"data.path '{path}' does not exist; give a CSV, TSV or JSONL file or a folder")
        if cfg.format == "folders" and not path.is_dir():
            raise UserError(f"data.format=folders reads a folder per class, but data.path '{path}' is a file")
        if path.is_dir():
            if named:
                raise UserError(f"data.path '{path}' is a folder and data.{next(iter(named))} names a file too; "
                                "give one of them")
            return read_folder(path, cfg)
        if "train" in named:
            raise UserError(f"data.path '{path}' and data.train '{named['train']}' both name the training file; "
                            "give one of them")
        named["train"] = path
    if "train" not in named:
        raise UserError(f"data.{next(iter(named))} is given but not the training file; add data.train=<file>")
    return {split: read_table(file, cfg) for split, file in named.items()}


def read_folder(folder: Path, cfg: ClassifyDataConfig) -> dict[str, LabelledTexts]:
    """Split files (`train.csv`, `val.csv`, `test.csv`, ...), split folders of class folders, or class folders."""
    tables = split_files(folder)
    if tables:
        if "train" not in tables:
            raise UserError(f"{folder} holds {', '.join(p.name for p in tables.values())} but no train file; "
                            "add train.csv (or .tsv, .jsonl)")
        return {split: read_table(file, cfg) for split, file in tables.items()}
    split_folders = {split: folder / name for split in SPLITS for name in SPLIT_NAMES[split]
                     if (folder / name).is_dir()}
    if "train" in split_folders:
        return {split: read_class_folders(path) for split, path in split_folders.items()}
    return {"train": read_class_folders(folder)}


def split_files(folder: Path) -> dict[str, Path]:
    """The split files of a folder, by name (`train.csv`, `dev.tsv`, `test.jsonl`, ...)."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        split = next((s for s, names in SPLIT_NAMES.items() if path.stem.lower() in names), None)
        if split is None or path.suffix.lower() not in SUFFIXES or not path.is_file():
            continue
        if split in found:
            raise UserError(f"{folder} holds two {split} files, {found[split].name} and {path.name}; keep one")
        found[split] = path
    return found


def read_class_folders(root: Path) -> LabelledTexts:
    """`root/<class>/*.txt`: one text a file, labelled by its folder's name (classes and files in sorted order)."""
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise UserError(f"folder '{root}' has no class subfolders and no train.csv/.tsv/.jsonl; give "
                        f"<folder>/<class>/*.txt (a folder per class) or a CSV, TSV or JSONL file")
    found = LabelledTexts(str(root))
    for folder in classes:
        files = sorted(folder.glob("*.txt"))
        if not files:
            raise UserError(f"class folder '{folder}' has no .txt files; give one text per .txt file, or remove it")
        for file in files:
            found.texts.append(decode(file.read_bytes(), file))
            found.labels.append(folder.name)
    return found


def decode(raw: bytes, path: Path) -> str:
    """UTF-8 text (a byte-order mark dropped); else an error naming the first byte that is not UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"'{path}' is not UTF-8 text: byte {error.start} (0x{raw[error.start]:02x}) cannot be "
                        "decoded; convert the file to UTF-8") from None
    return text.removeprefix("\ufeff")


def table_format(path: Path, cfg: ClassifyDataConfig) -> str:
    if cfg.format not in ("auto", "folders"):
        return cfg.format
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise UserError(f"cannot tell the format of '{path}' from its name; set data.format=csv, tsv or jsonl")
    return kind


def read_table(path: Path, cfg: ClassifyDataConfig) -> LabelledTexts:
    """A CSV/TSV file with a header line, or JSONL; the texts and labels of `data.text_column`/`label_column`."""
    if not path.is_file():
        raise UserError(f"'{path}' does not exist or is not a file; give a CSV, TSV or JSONL file")
    text = decode(path.read_bytes(), path)
    if not text.strip():
        raise UserError(f"'{path}' is empty; give a file with one labelled text per line")
    kind = table_format(path, cfg)
    if kind == "jsonl":
        rows = _jsonl_rows(text, path, cfg)
    else:
        rows = _delimited_rows(text, path, cfg.delimiter or ("\t" if kind == "tsv" else _sniff(text[:SNIFF_BYTES])),
                               cfg)
    found = LabelledTexts(str(path))
    for line, row in rows:
        label = row[cfg.label_column]
        if label is None or not str(label).strip():
            raise UserError(f"line {line} of '{path}' has no label in '{cfg.label_column}'; label every text")
        found.texts.append("" if row[cfg.text_column] is None else str(row[cfg.text_column]))
        found.labels.append(str(label).strip())
    return found


def _check_columns(names: list[str], path: Path, cfg: ClassifyDataConfig, where: str) -> None:
    for key in ("text_column", "label_column"):
        if getattr(cfg, key) not in names:
            raise UserError(f"data.{key} '{getattr(cfg, key)}' is not in '{path}'; its {where} are: "
                            f"{', '.join(map(str, names))} (set data.text_column= and data.label_column=)")


def _delimited_rows(text: str, path: Path, delimiter: str, cfg: ClassifyDataConfig) -> list[tuple[int, dict]]:
    """(line number, {column: value}) for each row; quoted fields may hold delimiters and newlines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
        _check_columns(header, path, cfg, "columns")
        rows = [(reader.line_num, dict(zip(header, values + [""] * (len(header) - len(values)))))
                for values in reader if any(value.strip() for value in values)]
    except csv.Error as error:
        raise UserError(f"'{path}' is not valid CSV near line {reader.line_num} ({error}); check its quotes") \
            from None
    if not rows:
        raise UserError(f"'{path}' has a header line but no rows; give one labelled text per row")
    return rows


def _sniff(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:  # one column, or too little text to tell: the column check then names what was found
        return ","


def _jsonl_rows(text: str, path: Path, cfg: ClassifyDataConfig) -> list[tuple[int, dict]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(f"line {number} of '{path}' is not JSON ({error.msg}); give one object a line") from None
        if not isinstance(row, dict):
            raise UserError(f"line {number} of '{path}' is not a JSON object; give one {{\"text\": ..., "
                            "\"label\": ...} a line")
        _check_columns(list(row), path, cfg, f"keys on line {number}")
        rows.append((number, row))
    return rows
