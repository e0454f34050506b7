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

from rnnlab.data.text import PAD_ID
from rnnlab.models.config import ModelConfig
from rnnlab.models.embedding import embed_time_major
from rnnlab.models.encoder import RecurrentEncoder
from rnnlab.models.init import initialize_
from rnnlab.tasks.base import RecurrentTask
from rnnlab.tasks.classify.data import Batch, ClassifySpec
from rnnlab.tasks.classify.report import classification_report, confusion_figure, most_confidently_wrong
from rnnlab.tasks.optimizer import OptimizerConfig


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
        Work a step does not need is skipped (it is per-step overhead beside a fast recurrence): the pad
        mask unless pooling or attention reads it, dropout layers with p = 0.
        """
        pre_padded = self.spec.text["pad"] == "pre"
        if pre_padded and not self.encoder.bidirectional:
            reads_mask = self.encoder.pooling != "last" or self.encoder.attention is not None
            _, summary = self.encoder(self.embed(tokens), mask=tokens != PAD_ID if reads_mask else None)
        else:
            lengths = lengths.clamp(min=1)
            if pre_padded:
                tokens = align_left(tokens, lengths)
            _, summary = self.encoder(self.embed(tokens), lengths=lengths)
        head_dropout, linear = self.head
        return linear(head_dropout(summary) if head_dropout.p else summary).squeeze(-1)

    def embed(self, tokens: Tensor) -> Tensor:
        vectors = embed_time_major(self.embedding, tokens)
        return self.embedding_dropout(vectors) if self.embedding_dropout.p else vectors

    def _step(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """Loss, logits [B] and labels of a batch."""
        tokens, lengths, labels, _ = batch
        logits = self(tokens, lengths)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, labels.float())
        return loss, logits, labels

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss, _, _ = self._step(batch)
        self.log_train_loss(loss, len(batch[0]), batch_idx)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        loss, logits, labels = self._step(batch)
        probabilities = torch.sigmoid(logits.float())
        self.log("val/loss", loss, prog_bar=True, sync_dist=True)
        self.val_metrics.update(probabilities, labels)
        self.log_dict(self.val_metrics, prog_bar=False)

    def on_test_epoch_start(self) -> None:
        self.test_outputs = []

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        loss, logits, labels = self._step(batch)
        probabilities = torch.sigmoid(logits.float())
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
