"""Translation: encoder–decoder trained with teacher forcing; token accuracy, exact match and BLEU.

Validation decodes greedily every epoch (`val/exact_match` picks the best checkpoint); the test pass
decodes with `decode.beam_size` beams and reports greedy exact match beside it, per source length too.
Exact match and BLEU score a translation against every reference of its source (a pair file may give a
sentence several translations), in the original tokens (a reference's rare words are not <unk> there).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from rnnlab.models.config import DecodeConfig, ModelConfig
from rnnlab.models.decoding import beam_search, greedy_decode, until_eos
from rnnlab.models.init import initialize_
from rnnlab.models.seq2seq import Seq2Seq
from rnnlab.tasks.base import RecurrentTask
from rnnlab.tasks.optimizer import OptimizerConfig
from rnnlab.tasks.translate.data import EOS, PAD, SOS, Batch, TranslateSpec
from rnnlab.tasks.translate.report import (
    TestRow,
    attention_figure,
    bleu_metric,
    bleu_text,
    by_length,
    by_length_figure,
    by_length_markdown,
    translations_markdown,
)


class Seq2SeqTask(RecurrentTask):
    """Source tokens -> target tokens; the checkpoint carries both vocabularies and how text becomes tokens, so it
    translates alone."""


    def __init__(self, model: ModelConfig, optimizer: OptimizerConfig, spec: TranslateSpec,
                 monitor: str | None = None, mode: str | None = None, decode: DecodeConfig | None = None) -> None:
        decode = decode or DecodeConfig()
        super().__init__(model, optimizer, spec, monitor, mode, extra={"decode": asdict(decode)})
        self.decode_cfg = decode
        self.net = Seq2Seq(model, len(spec.source_vocab), len(spec.target_vocab), spec.embedding_dim, PAD)
        initialize_(self, model.init)
        vocab = len(spec.target_vocab)
        for split in ("val", "test"):
            setattr(self, f"{split}_token_acc", MulticlassAccuracy(vocab, average="micro", ignore_index=PAD))
            setattr(self, f"{split}_exact_match", MeanMetric())
            setattr(self, f"{split}_bleu", bleu_metric(spec))
        self.test_exact_greedy = MeanMetric()
        self.test_rows: list[TestRow] = []

    @property
    def max_steps(self) -> int:
        """Most tokens a translation may have (EOS included): decode.max_steps, else twice the longest target."""
        return self.decode_cfg.max_steps or 2 * self.spec.max_target_len + 1

    def forward(self, source: Tensor, lengths: Tensor) -> list[list[int]]:
        """Translate a batch: target ids per row (EOS removed), with the configured beam size."""
        if self.decode_cfg.beam_size > 1:
            tokens = beam_search(self.net, source, lengths, self.decode_cfg.beam_size, self.max_steps, SOS, EOS,
                                 self.decode_cfg.length_penalty, PAD)
        else:
            tokens, _ = greedy_decode(self.net, source, lengths, self.max_steps, SOS, EOS, PAD)
        return until_eos(tokens, EOS)

    def greedy(self, source: Tensor, lengths: Tensor) -> tuple[list[list[int]], Tensor | None]:
        tokens, weights = greedy_decode(self.net, source, lengths, self.max_steps, SOS, EOS, PAD)
        return until_eos(tokens, EOS), weights

    def _teacher_forced(self, batch: Batch, teacher_forcing: float = 1.0) -> tuple[Tensor, Tensor]:
        source, lengths, target_in, target_out, _ = batch
        logits = self.net(source, lengths, target_in, teacher_forcing)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1).float(), target_out.flatten(), ignore_index=PAD)
        return loss, logits

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss, _ = self._teacher_forced(batch, self.decode_cfg.teacher_forcing)
        self.log_train_loss(loss, len(batch[0]), batch_idx)
        return loss

    def _words(self, ids: list[int]) -> list[str]:
        return [self.spec.target_vocab[i] for i in ids]

    def _references(self, split: str, rows: Tensor) -> list[list[list[str]]]:
        """The reference token lists of each batch row (every target of its source)."""
        references = self.trainer.datamodule.sets[split].references
        return [references[row] for row in rows.tolist()]

    def _score(self, split: str, batch: Batch, predictions: list[list[int]]) -> list[list[list[str]]]:
        """Update token accuracy, exact match and BLEU of `split`; returns the references of each row."""
        loss, logits = self._teacher_forced(batch)
        self.log(f"{split}/loss", loss, prog_bar=split == "val", sync_dist=True)
        getattr(self, f"{split}_token_acc").update(logits.argmax(-1), batch[3])
        references = self._references(split, batch[4])
        words = [self._words(p) for p in predictions]
        exact = torch.tensor([w in refs for w, refs in zip(words, references)], dtype=torch.float)
        getattr(self, f"{split}_exact_match").update(exact)
        getattr(self, f"{split}_bleu").update([bleu_text(self.spec, w) for w in words],
                                              [[bleu_text(self.spec, r) for r in refs] for refs in references])
        return references

    def _log_scores(self, split: str) -> None:
        for name in ("token_acc", "exact_match", "bleu"):
            metric = getattr(self, f"{split}_{name}")
            self.log(f"{split}/{name}", metric.compute(), prog_bar=name == "exact_match")
            metric.reset()

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        predictions, _ = self.greedy(batch[0], batch[1])
        self._score("val", batch, predictions)

    def on_validation_epoch_end(self) -> None:
        self._log_scores("val")

    def on_test_epoch_start(self) -> None:
        self.test_rows = []

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        source, lengths, _, _, rows = batch
        greedy, _ = self.greedy(source, lengths)
        predictions = self(source, lengths) if self.decode_cfg.beam_size > 1 else greedy
        references = self._score("test", batch, predictions)
        self.test_exact_greedy.update(torch.tensor([self._words(g) in refs for g, refs in zip(greedy, references)],
                                                   dtype=torch.float))
        for row, length, prediction, refs in zip(rows.tolist(), lengths.tolist(), predictions, references):
            self.test_rows.append(TestRow(row, length, self._words(prediction), refs))

    def on_test_epoch_end(self) -> None:
        self._log_scores("test")
        self.log("test/exact_match_greedy", self.test_exact_greedy.compute())
        self.test_exact_greedy.reset()
        pairs = self.trainer.datamodule.test_pairs()
        cfg = self.trainer.datamodule.cfg
        buckets = by_length(self.test_rows, self.spec)
        self.test_report = {"decode": asdict(self.decode_cfg), "by_length": buckets,
                            "examples": [row.example(pairs, self.spec) for row in self.test_rows[:cfg.examples]]}
        self.test_files = {"translations.md": translations_markdown(self.test_report["examples"]),
                           "by_length.md": by_length_markdown(buckets)}
        self.test_figures = {"accuracy_by_length": by_length_figure(buckets)}
        if self.net.decoder.attention is not None and cfg.heatmaps:
            self.test_figures["attention"] = self._attention_figure(pairs[: cfg.heatmaps])

    def _attention_figure(self, pairs: list[Any]) -> Any:
        dataset = self.trainer.datamodule.sets["test"]
        items = [dataset[i] for i in range(len(pairs))]
        source = nn.utils.rnn.pad_sequence([s for s, _, _ in items], batch_first=True, padding_value=PAD)
        lengths = torch.tensor([len(s) for s, _, _ in items])
        predictions, weights = self.greedy(source.to(self.device), lengths.to(self.device))
        panels = []
        for (source_tokens, _), prediction, matrix, length in zip(pairs, predictions, weights.cpu(), lengths.tolist()):
            shown = self._words(prediction) + ["</s>"]
            panels.append((matrix[: len(shown), :length].float().numpy(), list(source_tokens), shown))
        return attention_figure(panels)
