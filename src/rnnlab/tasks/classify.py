"""Text classification: embedding -> recurrent encoder -> logit; accuracy, F1, precision, recall, AUROC."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryConfusionMatrix,
    BinaryF1Score,
    BinaryPrecision,
    BinaryRecall,
)

from rnnlab.config import ModelConfig, OptimizerConfig
from rnnlab.data.imdb import Batch, ClassifySpec
from rnnlab.data.text import PAD_ID
from rnnlab.models.encoder import RecurrentEncoder
from rnnlab.models.init import initialize_
from rnnlab.tasks.base import RecurrentTask
from rnnlab.tasks.classify_report import classification_report, confusion_figure, most_confidently_wrong


def classification_metrics() -> MetricCollection:
    return MetricCollection({"acc": BinaryAccuracy(), "f1": BinaryF1Score(), "precision": BinaryPrecision(),
                             "recall": BinaryRecall(), "auroc": BinaryAUROC()})


def align_left(tokens: Tensor, lengths: Tensor) -> Tensor:
    """Move each row's tokens of a pre-padded batch to the front: [0 0 a b] -> [a b 0 0]."""
    width = tokens.shape[1]
    index = (torch.arange(width, device=tokens.device) + (width - lengths).unsqueeze(1)) % width
    return torch.gather(tokens, 1, index)


class ClassifyTask(RecurrentTask):
    """Binary sentiment from token ids; the checkpoint carries the vocabulary, so it predicts alone."""

    default_monitor = "val/acc"

    def __init__(
        self, model: ModelConfig, optimizer: OptimizerConfig, spec: ClassifySpec,
        monitor: str | None = None, mode: str | None = None,
    ) -> None:
        super().__init__(model, optimizer, spec, monitor, mode)
        self.embedding = nn.Embedding(spec.vocab_size, spec.embedding_dim, padding_idx=PAD_ID)
        self.embedding_dropout = nn.Dropout(spec.embedding_dropout)
        self.encoder = RecurrentEncoder(model, spec.embedding_dim)
        self.head = nn.Sequential(nn.Dropout(spec.head_dropout), nn.Linear(self.encoder.summary_size, 1))
        initialize_(self, model.init)
        self.val_metrics = classification_metrics().clone(prefix="val/")
        self.test_metrics = classification_metrics().clone(prefix="test/")
        self.test_confusion = BinaryConfusionMatrix()
        self.test_outputs: list[tuple[Tensor, Tensor, Tensor]] = []

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """Token ids [B, T] (padded on the side `data.pad` says) -> logits [B] of the positive class.

        Post-padded rows run with exact lengths. Pre-padded rows run over their leading pads, as in
        Keras (fast, and the forward direction still ends on the last word), except bidirectional
        encoders, whose backward direction would end on pads: their rows are moved to the front first.
        """
        lengths = lengths.clamp(min=1)
        if self.spec.text["pad"] == "pre" and not self.encoder.bidirectional:
            _, summary = self.encoder(self.embed(tokens), mask=tokens != PAD_ID)
        else:
            if self.spec.text["pad"] == "pre":
                tokens = align_left(tokens, lengths)
            _, summary = self.encoder(self.embed(tokens), lengths=lengths)
        return self.head(summary).squeeze(-1)

    def embed(self, tokens: Tensor) -> Tensor:
        return self.embedding_dropout(self.embedding(tokens))

    def _step(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        tokens, lengths, labels, _ = batch
        logits = self(tokens, lengths)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, labels.float())
        return loss, torch.sigmoid(logits.float()), labels

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss, _, _ = self._step(batch)
        self.check_finite(loss)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("train/loss_step", loss, on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        loss, probabilities, labels = self._step(batch)
        self.log("val/loss", loss, prog_bar=True, sync_dist=True)
        self.val_metrics.update(probabilities, labels)
        self.log_dict(self.val_metrics, prog_bar=False)

    def on_test_epoch_start(self) -> None:
        self.test_outputs = []

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        loss, probabilities, labels = self._step(batch)
        self.log("test/loss", loss, sync_dist=True)
        self.test_metrics.update(probabilities, labels)
        self.test_confusion.update(probabilities, labels)
        self.test_outputs.append((probabilities.cpu(), labels.cpu(), batch[3].cpu()))

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.test_metrics.compute())
        self.test_metrics.reset()
        probabilities, labels, rows = (torch.cat(column) for column in zip(*self.test_outputs))
        confusion = self.test_confusion.compute().cpu()
        self.test_confusion.reset()
        names = self.spec.labels
        texts = self.trainer.datamodule.test_texts()
        wrong = most_confidently_wrong(probabilities, labels, rows, texts, self.trainer.datamodule.cfg.wrong_examples)
        self.test_report = {"confusion_matrix": confusion.tolist(), "labels": names,
                            "classification_report": classification_report(confusion, names)}
        self.test_files = {"classification_report.txt": self.test_report["classification_report"]["text"],
                           "most_confidently_wrong.md": wrong}
        self.test_figures = {"confusion_matrix": confusion_figure(confusion, names)}
