"""Text classification: embedding -> recurrent encoder -> a logit per class (one for two classes); accuracy,
balanced accuracy, macro and weighted F1 (and for two classes F1, precision, recall and AUROC of the second)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAUROC,
    BinaryF1Score,
    BinaryPrecision,
    BinaryRecall,
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassRecall,
)

from rnnlab.data.text import PAD_ID
from rnnlab.models.config import ModelConfig
from rnnlab.models.embedding import embed_time_major
from rnnlab.models.encoder import RecurrentEncoder
from rnnlab.models.init import initialize_
from rnnlab.tasks.base import RecurrentTask
from rnnlab.tasks.classify.data import Batch, ClassifySpec
from rnnlab.tasks.classify.report import (
    classification_report,
    confusion_figure,
    majority_baseline,
    most_confidently_wrong,
    verdict,
)
from rnnlab.tasks.optimizer import OptimizerConfig


def class_metrics(num_classes: int) -> MetricCollection:
    """Scores of every classifier, from class probabilities [B, C]: accuracy, balanced accuracy (the mean of the
    classes' recalls), macro F1 (the mean of the classes' F1) and weighted F1 (weighted by each class's texts)."""
    return MetricCollection({"acc": MulticlassAccuracy(num_classes, average="micro"),
                             "balanced_acc": MulticlassRecall(num_classes, average="macro"),
                             "macro_f1": MulticlassF1Score(num_classes, average="macro"),
                             "weighted_f1": MulticlassF1Score(num_classes, average="weighted")})


def binary_metrics() -> MetricCollection:
    """Scores of the second class of two (IMDB's `pos`), from its probability [B]."""
    return MetricCollection({"f1": BinaryF1Score(), "precision": BinaryPrecision(), "recall": BinaryRecall(),
                             "auroc": BinaryAUROC()})


def align_left(tokens: Tensor, lengths: Tensor) -> Tensor:
    """Move each row's tokens of a pre-padded batch to the front: [0 0 a b] -> [a b 0 0]."""
    width = tokens.shape[1]
    index = (torch.arange(width, device=tokens.device) + (width - lengths).unsqueeze(1)) % width
    return torch.gather(tokens, 1, index)


class ClassifyTask(RecurrentTask):
    """Classes from token ids; the checkpoint carries the vocabulary and class names, so it predicts alone."""

    def __init__(
        self, model: ModelConfig, optimizer: OptimizerConfig, spec: ClassifySpec,
        monitor: str | None = None, mode: str | None = None,
    ) -> None:
        super().__init__(model, optimizer, spec, monitor, mode)
        classes = len(spec.labels)
        self.embedding = nn.Embedding(spec.vocab_size, spec.embedding_dim, padding_idx=PAD_ID)
        self.embedding_dropout = nn.Dropout(spec.embedding_dropout)
        self.encoder = RecurrentEncoder(model, spec.embedding_dim)
        outputs = 1 if classes == 2 else classes  # two classes: one logit, so IMDB's checkpoints keep their shape
        self.head = nn.Sequential(nn.Dropout(spec.head_dropout), nn.Linear(self.encoder.summary_size, outputs))
        initialize_(self, model.init)
        self.register_buffer("class_weights", None if spec.class_weights is None else
                             torch.tensor(spec.class_weights), persistent=False)
        self.metrics = nn.ModuleDict({split: class_metrics(classes).clone(prefix=f"{split}/")
                                      for split in ("val", "test")})
        self.binary = nn.ModuleDict({split: binary_metrics().clone(prefix=f"{split}/")
                                     for split in ("val", "test")}) if classes == 2 else None
        self.test_confusion = MulticlassConfusionMatrix(classes)
        self.test_outputs: list[tuple[Tensor, Tensor, Tensor]] = []

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """Token ids [B, T] (padded on the side `data.pad` says) -> logits [B, classes], or [B] for two classes
        (the logit of the second).

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
        logits = linear(head_dropout(summary) if head_dropout.p else summary)
        return logits.squeeze(-1) if len(self.spec.labels) == 2 else logits

    def embed(self, tokens: Tensor) -> Tensor:
        vectors = embed_time_major(self.embedding, tokens)
        return self.embedding_dropout(vectors) if self.embedding_dropout.p else vectors

    def class_probabilities(self, logits: Tensor) -> Tensor:
        """[B, classes]: the softmax of the logits, or for two classes (1 - p, p) with p the sigmoid of the one."""
        if logits.ndim == 1:
            positive = torch.sigmoid(logits.float())
            return torch.stack([1 - positive, positive], dim=1)
        return torch.softmax(logits.float(), dim=1)

    def _step(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """Loss, logits and labels of a batch."""
        tokens, lengths, labels, _ = batch
        logits = self(tokens, lengths)
        weights = self.class_weights
        if logits.ndim == 1:
            loss = nn.functional.binary_cross_entropy_with_logits(
                logits, labels.float(), weight=None if weights is None else weights[labels])
        else:
            loss = nn.functional.cross_entropy(logits, labels, weight=weights)
        return loss, logits, labels

    def _update_scores(self, split: str, logits: Tensor, labels: Tensor) -> Tensor:
        """Class probabilities [B, classes], after adding the batch to the split's metrics."""
        probabilities = self.class_probabilities(logits)
        self.metrics[split].update(probabilities, labels)
        if self.binary is not None:
            self.binary[split].update(probabilities[:, 1], labels)
        return probabilities

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss, _, _ = self._step(batch)
        self.log_train_loss(loss, len(batch[0]), batch_idx)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        loss, logits, labels = self._step(batch)
        self.log("val/loss", loss, prog_bar=True, sync_dist=True)
        self._update_scores("val", logits, labels)
        self.log_dict(self.metrics["val"], prog_bar=False)
        if self.binary is not None:
            self.log_dict(self.binary["val"], prog_bar=False)

    def on_test_epoch_start(self) -> None:
        self.test_outputs = []

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        loss, logits, labels = self._step(batch)
        self.log("test/loss", loss, sync_dist=True)
        probabilities = self._update_scores("test", logits, labels)
        self.test_confusion.update(probabilities, labels)
        self.test_outputs.append((probabilities.cpu(), labels.cpu(), batch[3].cpu()))

    def on_test_epoch_end(self) -> None:
        scores = {**self.metrics["test"].compute(), **(self.binary["test"].compute() if self.binary else {})}
        self.metrics["test"].reset()
        if self.binary is not None:
            self.binary["test"].reset()
        probabilities, labels, rows = (torch.cat(column) for column in zip(*self.test_outputs))
        confusion = self.test_confusion.compute().cpu()
        self.test_confusion.reset()
        data = self.trainer.datamodule
        names = self.spec.labels
        baseline = majority_baseline(data.train_counts, labels)
        self.log_dict({**{k: float(v) for k, v in scores.items()},
                       **{f"test/majority_{k}": v for k, v in baseline["scores"].items()}})
        wrong = most_confidently_wrong(probabilities, labels, rows, data.test_texts(), names, data.cfg.wrong_examples)
        report, table = classification_report(confusion, names, data.train_counts)
        self.test_report = {"confusion_matrix": confusion.tolist(), "labels": names,
                            "train_class_counts": data.train_counts, "classification_report": report,
                            "majority_baseline": baseline, "table": table,
                            "verdict": verdict({k.partition("/")[2]: float(v) for k, v in scores.items()}, baseline)}
        self.test_files = {"classification_report.txt": table, "most_confidently_wrong.md": wrong}
        self.test_figures = {"confusion_matrix": confusion_figure(confusion, names)}
