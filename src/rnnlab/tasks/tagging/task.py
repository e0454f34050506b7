"""Sequence tagging: word vectors (+ a vector from each word's characters) -> recurrent encoder -> a tag per
word, by a softmax per word or a CRF over the sentence; scored beside the most-frequent-tag baseline."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnlab.models.char_encoder import CharWordEncoder
from rnnlab.models.config import ModelConfig
from rnnlab.models.crf import LinearChainCRF
from rnnlab.models.encoder import RecurrentEncoder, step_mask
from rnnlab.models.init import initialize_
from rnnlab.tasks.base import RecurrentTask
from rnnlab.tasks.optimizer import OptimizerConfig
from rnnlab.tasks.tagging.data import IGNORE, PAD, UNK, Batch, TaggingSpec
from rnnlab.tasks.tagging.report import (
    baseline_predictions,
    confusion_figure,
    is_bio,
    per_tag_table,
    span_scores,
    tag_scores,
)


class TaggingTask(RecurrentTask):
    """A tag for every word; the checkpoint carries the vocabularies and tags, so it tags new text alone."""

    def __init__(self, model: ModelConfig, optimizer: OptimizerConfig, spec: TaggingSpec,
                 monitor: str | None = None, mode: str | None = None) -> None:
        super().__init__(model, optimizer, spec, monitor, mode)
        self.word_embedding = nn.Embedding(len(spec.words), spec.embedding_dim, padding_idx=PAD)
        self.chars = None if model.char_encoder == "none" else CharWordEncoder(
            model.char_encoder, len(spec.chars), spec.char_embedding_dim, spec.char_hidden_size, model.impl)
        width = spec.embedding_dim + (self.chars.output_size if self.chars is not None else 0)
        self.dropout = nn.Dropout(spec.dropout)
        self.encoder = RecurrentEncoder(model, width)
        self.head = nn.Linear(self.encoder.output_size, len(spec.tags))
        self.crf = LinearChainCRF(len(spec.tags)) if spec.crf else None
        if spec.word_dropout_mode == "frequency":  # alpha / (alpha + count): rare words often, frequent ones rarely
            counts = torch.tensor(spec.word_counts, dtype=torch.float32)
            self.register_buffer("drop_probability", spec.word_dropout / (spec.word_dropout + counts), persistent=False)
        initialize_(self, model.init)
        self.val_counts = [0, 0]  # correct, tokens
        self.test_outputs: list[tuple[list[int], list[list[int]]]] = []

    def emissions(self, words: Tensor, lengths: Tensor, chars: Tensor) -> Tensor:
        """Tag scores [B, T, tags] of right-padded sentences."""
        if self.training and self.spec.word_dropout:  # words trained as unknown, so unseen words are handled
            chance = self.drop_probability[words] if self.spec.word_dropout_mode == "frequency" \
                else self.spec.word_dropout
            drop = torch.rand(words.shape, device=words.device) < chance
            words = words.masked_fill(drop & (words != PAD), UNK)
        vectors = self.word_embedding(words)
        if self.chars is not None:
            vectors = torch.cat([vectors, self.chars(chars)], dim=-1)
        states, _ = self.encoder(self.dropout(vectors), lengths=lengths)
        return self.head(self.dropout(states))

    def forward(self, words: Tensor, lengths: Tensor, chars: Tensor) -> Tensor:
        """The tag ids [B, T] of each word (0 at pads)."""
        scores = self.emissions(words, lengths, chars)
        mask = step_mask(lengths, words.shape[1])
        if self.crf is not None:
            return self.crf.decode(scores, mask)
        return scores.argmax(-1).masked_fill(~mask, 0)

    def _loss(self, batch: Batch, training: bool = False) -> tuple[Tensor, Tensor]:
        """Mean loss per word of the batch; in training with data.loss_per=word, the batch's summed loss over
        the mean words per training batch, so that a word weighs the same in a batch of short sentences as in
        one of long ones (length buckets make batches' word counts differ tenfold)."""
        words, lengths, chars, tags, _ = batch
        scores = self.emissions(words, lengths, chars)
        by_word = training and self.spec.loss_per == "word"
        if self.crf is not None:
            mask = step_mask(lengths, words.shape[1])
            return self.crf.nll(scores, tags.clamp(min=0), mask) / (self.spec.words_per_batch if by_word
                                                                    else mask.sum()), scores
        total = nn.functional.cross_entropy(scores.flatten(0, 1).float(), tags.flatten(), ignore_index=IGNORE,
                                            reduction="sum")
        return total / (self.spec.words_per_batch if by_word else (tags != IGNORE).sum().clamp(min=1)), scores

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss, _ = self._loss(batch, training=True)
        self.log_train_loss(loss, len(batch[0]), batch_idx)
        return loss

    def on_validation_epoch_start(self) -> None:
        self.val_counts = [0, 0]

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        loss, _ = self._loss(batch)
        self.log("val/loss", loss, prog_bar=True, batch_size=len(batch[0]))
        words, lengths, chars, tags, _ = batch
        predicted = self(words, lengths, chars)
        real = tags != IGNORE
        self.val_counts[0] += int(((predicted == tags) & real).sum())
        self.val_counts[1] += int((step_mask(lengths, words.shape[1])).sum())

    def on_validation_epoch_end(self) -> None:
        correct, tokens = self.val_counts
        self.log("val/acc", correct / tokens if tokens else math.nan, prog_bar=True)

    def on_test_epoch_start(self) -> None:
        self.test_outputs = []

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        words, lengths, chars, _, rows = batch
        predicted = self(words, lengths, chars).cpu()
        self.test_outputs.append((rows.tolist(), [p[:n].tolist() for p, n in zip(predicted, lengths.tolist())]))

    def on_test_epoch_end(self) -> None:
        data = self.trainer.datamodule
        sentences = data.sets["test"].sentences
        predicted: list[list[str]] = [[] for _ in sentences]
        for rows, tags in self.test_outputs:
            for row, ids in zip(rows, tags):
                predicted[row] = [self.spec.tags[i] for i in ids]
        done = [i for i, p in enumerate(predicted) if p or not sentences[i].words]  # limit_test_batches: a part
        gold = [list(sentences[i].tags) for i in done]
        guesses = [predicted[i] for i in done]
        known = {word.lower() for word in data.train_words}
        unseen = [[word.lower() not in known for word in sentences[i].words] for i in done]
        train = data.raw_train
        scores = tag_scores(gold, guesses, self.spec.tags, unseen)
        baseline = tag_scores(gold, baseline_predictions(train, [sentences[i] for i in done]), self.spec.tags, unseen)
        metrics = {f"test/{key}": scores[key] for key in ("acc", "unseen_acc", "macro_f1", "exact_match")}
        metrics.update({f"test/baseline_{key}": baseline[key] for key in ("acc", "unseen_acc", "macro_f1")})
        if is_bio([tag for sentence in gold for tag in sentence]):
            metrics.update({f"test/{k}": v for k, v in span_scores(gold, guesses).items()})
            baseline_guesses = baseline_predictions(train, [sentences[i] for i in done])
            metrics.update({f"test/baseline_{k}": v for k, v in span_scores(gold, baseline_guesses).items()})
        self.log_dict(metrics)
        beats = "beats" if scores["acc"] > baseline["acc"] else "does NOT beat"
        self.test_report = {
            "per_tag": scores["per_tag"], "unseen_share": scores["unseen_share"],
            "unseen_tags": dict(data.unseen_tags),
            "verdict": f"the tagger ({scores['acc']:.2%} of test tokens) {beats} the most-frequent-tag baseline "
                       f"({baseline['acc']:.2%}); on the {scores['unseen_share']:.1%} of tokens unseen in "
                       f"training {scores['unseen_acc']:.2%} against {baseline['unseen_acc']:.2%}"}
        self.test_files = {"per_tag.md": per_tag_table(scores["per_tag"])}
        self.test_figures = {"tag_confusion": confusion_figure(scores["confusion"], self.spec.tags)}
