"""Character language model: embedding -> recurrent encoder -> a linear layer over the characters.

Training is truncated back-propagation through time: each window's final states start the next window of the
same streams (detached), from zero at each epoch's start; `data.stateful=false` trains on random windows from
zero states instead. Validation and test read their whole text statefully. Losses are in nats per character,
beside bits per character and perplexity, and on the test text beside unigram and Kneser–Ney n-gram models.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.loggers import TensorBoardLogger
from torch import Tensor, nn
from torchmetrics import MeanMetric

from rnnlab.errors import UserError
from rnnlab.models.config import ModelConfig
from rnnlab.models.encoder import RecurrentEncoder, detach_states
from rnnlab.models.init import initialize_
from rnnlab.tasks.base import RecurrentTask
from rnnlab.tasks.chars.data import Batch, CharsSpec
from rnnlab.tasks.chars.generate import continue_text
from rnnlab.tasks.chars.ngram import KneserNey, unigram_loss
from rnnlab.tasks.chars.report import baseline_verdict, sample_seed
from rnnlab.tasks.optimizer import OptimizerConfig

State = Any  # the encoder's final states, one per layer (a tensor, or (h, c) for LSTM)


class CharLanguageModel(RecurrentTask):
    """Predicts each next character; the checkpoint carries the characters, so it generates text alone."""

    def __init__(self, model: ModelConfig, optimizer: OptimizerConfig, spec: CharsSpec,
                 monitor: str | None = None, mode: str | None = None) -> None:
        super().__init__(model, optimizer, spec, monitor, mode)
        vocab = len(spec.chars)
        self.embedding = nn.Embedding(vocab, spec.embedding_dim)
        self.embedding_dropout = nn.Dropout(spec.embedding_dropout)
        self.encoder = RecurrentEncoder(model, spec.embedding_dim)
        self.output_dropout = nn.Dropout(spec.output_dropout)
        self.head = nn.Linear(self.encoder.output_size, vocab)
        initialize_(self, model.init)
        if spec.tie_weights:
            if self.encoder.output_size != spec.embedding_dim:
                raise UserError(f"data.tie_weights=true shares the input and output character vectors, so "
                                f"data.embedding_dim ({spec.embedding_dim}) must equal model.hidden_size "
                                f"({self.encoder.output_size}); set them equal or data.tie_weights=false")
            self.head.weight = self.embedding.weight
        self.nll = nn.ModuleDict({split: MeanMetric() for split in ("val", "test")})  # nats/char, char-weighted
        self._state: State = None  # carried from window to window within an epoch

    def forward(self, tokens: Tensor, state: State = None) -> tuple[Tensor, State]:
        """Character ids [B, T] (and the states to start from) -> logits [B, T, V] and the final states."""
        vectors = self.embedding(tokens)
        if self.embedding_dropout.p:
            vectors = self.embedding_dropout(vectors)
        outputs, state = self.encoder.run(vectors, state=state)
        if self.output_dropout.p:
            outputs = self.output_dropout(outputs)
        return self.head(outputs), state

    def _loss(self, batch: Batch) -> tuple[Tensor, int]:
        inputs, targets = batch
        logits, state = self(inputs, self._state if self.spec.stateful or not self.training else None)
        self._state = detach_states(state)
        return nn.functional.cross_entropy(logits.flatten(0, 1).float(), targets.flatten()), targets.numel()

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        self._state = None

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss, characters = self._loss(batch)
        self.log_train_loss(loss, characters, batch_idx)
        return loss

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        self._state = None

    def on_validation_epoch_start(self) -> None:
        self._training_state, self._state = self._state, None  # validation mid-epoch must not break the streams

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        loss, characters = self._loss(batch)
        self.nll["val"].update(loss.detach(), characters)

    def on_validation_epoch_end(self) -> None:
        self._log_losses("val")
        self._state = self._training_state
        if not self.trainer.sanity_checking and self.trainer.is_global_zero:
            self._write_sample()

    def on_test_epoch_start(self) -> None:
        self._state = None

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        loss, characters = self._loss(batch)
        self.nll["test"].update(loss.detach(), characters)

    def on_test_epoch_end(self) -> None:
        loss = self._log_losses("test")
        corpus, cfg = self.trainer.datamodule.corpus, self.trainer.datamodule.cfg
        train, test, vocab = corpus.splits["train"], corpus.splits["test"], len(corpus.chars)
        baselines = {"unigram": unigram_loss(train, test, vocab),
                     f"{cfg.ngram_order}gram": KneserNey(train, vocab, cfg.ngram_order).loss(test)}
        for name, value in baselines.items():
            self.log_dict({f"test/{name}_loss": value, f"test/{name}_bpc": value / math.log(2)})
        prompt = self.trainer.datamodule.sample_prompt
        sample = self.sample(prompt, max(cfg.sample_length, 1), cfg.sample_temperature, seed=sample_seed(-1))
        self.test_report = {"characters": len(test), "baselines_nats": baselines,
                            "verdict": baseline_verdict(loss, baselines), "sample": sample}
        self.test_files = {"sample.txt": sample}

    def _log_losses(self, split: str) -> float:
        metric = self.nll[split]
        loss = float(metric.compute()) if metric.update_count else float("nan")
        metric.reset()
        self.log_dict({f"{split}/loss": loss, f"{split}/bpc": loss / math.log(2), f"{split}/ppl": math.exp(loss)},
                      prog_bar=split == "val")
        return loss

    @torch.no_grad()
    def sample(self, prompt: str, length: int, temperature: float = 1.0, top_k: int | None = None,
               greedy: bool = False, seed: int = 0) -> str:
        """`prompt` and `length` characters after it, each drawn from the model given all before it."""
        return continue_text(self, prompt, length, temperature, top_k, greedy, seed)

    def _write_sample(self) -> None:
        """After each validation: a sample into <run>/samples/ and TensorBoard's text tab."""
        cfg, epoch = self.trainer.datamodule.cfg, self.current_epoch
        if not cfg.sample_length:
            return
        prompt = self.trainer.datamodule.sample_prompt
        text = self.sample(prompt, cfg.sample_length, cfg.sample_temperature, seed=sample_seed(epoch))
        folder = Path(self.trainer.default_root_dir) / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"epoch_{epoch:03d}.txt").write_text(text)
        if isinstance(self.logger, TensorBoardLogger):  # two spaces before a newline keep Markdown's line breaks
            self.logger.experiment.add_text("samples", "    " + text.replace("\n", "\n    "), self.global_step)
