"""The typed config schema: dataclasses stored in Hydra's ConfigStore.

Hydra checks key names and types while composing (an unknown key or `trainer.max_epochs=abc` fails
before any work); `validate` then checks choices and ranges and raises a one-line `UserError` that
names the key and the allowed values.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from rnnlab.data.text import TextSettings
from rnnlab.data.translation_pairs import TASKS as PAIR_TASKS
from rnnlab.data.translation_pairs import check_settings
from rnnlab.errors import UserError


def _choice(key: str, value: Any, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        names = ", ".join(str(a) for a in allowed)
        raise UserError(f"{key}={value!r} is not valid; choose one of {names}")


def _at_least(key: str, value: float, low: float) -> None:
    if value < low:
        raise UserError(f"{key}={value} is too small; use a value >= {low}")


def _fraction(key: str, value: float, *, inclusive_high: bool = False) -> None:
    ok = 0.0 <= value <= 1.0 if inclusive_high else 0.0 <= value < 1.0
    if not ok:
        high = "1]" if inclusive_high else "1)"
        raise UserError(f"{key}={value} is out of range; use a value in [0, {high}")


CELLS = ("rnn", "lstm", "gru")
POOLINGS = ("last", "mean", "max", "mean_max")
ATTENTIONS = ("none", "bahdanau", "luong")
IMPLS = ("auto", "torch", "fused")
LUONG_SCORES = ("dot", "general")


@dataclass
class ModelConfig:
    """The recurrent encoder; the dataset decides which head and task wrap it."""

    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    layer_norm: bool = False
    pooling: str = "last"
    attention: str = "none"
    impl: str = "auto"
    init: str = "torch"
    luong_score: str = "general"

    def check(self) -> None:
        _choice("model.cell", self.cell, CELLS)
        _at_least("model.hidden_size", self.hidden_size, 1)
        _at_least("model.num_layers", self.num_layers, 1)
        _fraction("model.dropout", self.dropout)
        _choice("model.pooling", self.pooling, POOLINGS)
        _choice("model.attention", self.attention, ATTENTIONS)
        _choice("model.impl", self.impl, IMPLS)
        _choice("model.init", self.init, ("torch", "keras"))
        _choice("model.luong_score", self.luong_score, LUONG_SCORES)


GENERATORS = ("sine", "sine_trend", "random_walk", "gbm")
SCALERS = ("standard", "minmax", "none")


@dataclass
class StockDataConfig:
    """A price-like series (generated from a seed, or a column of a CSV) cut into sliding windows."""

    generator: str = "sine"
    length: int = 1000
    time_span: float = 100.0
    frequency: float = 0.1
    noise_std: float = 0.1
    trend: float = 0.01
    step_mean: float = 0.0
    step_std: float = 0.01
    start_value: float = 100.0
    csv_path: Optional[str] = None
    column: Optional[str] = None
    seq_len: int = 20
    horizon: int = 1
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    scaler: str = "standard"
    relative: bool = False
    batch_size: int = 32
    rollout_steps: int = 20
    num_workers: int = 0

    def check(self) -> None:
        _choice("data.generator", self.generator, GENERATORS)
        _at_least("data.length", self.length, 2)
        _at_least("data.noise_std", self.noise_std, 0.0)
        _at_least("data.step_std", self.step_std, 0.0)
        _at_least("data.seq_len", self.seq_len, 2)
        _at_least("data.horizon", self.horizon, 1)
        _fraction("data.val_fraction", self.val_fraction)
        _fraction("data.test_fraction", self.test_fraction)
        if self.val_fraction + self.test_fraction >= 1.0:
            raise UserError(
                f"data.val_fraction + data.test_fraction = {self.val_fraction + self.test_fraction} "
                "leaves no training data; keep their sum below 1"
            )
        _choice("data.scaler", self.scaler, SCALERS)
        _at_least("data.batch_size", self.batch_size, 1)
        _at_least("data.rollout_steps", self.rollout_steps, 1)
        _at_least("data.num_workers", self.num_workers, 0)
        if self.generator in ("gbm",) and self.csv_path is None and self.start_value <= 0:
            raise UserError("data.start_value must be > 0 for the gbm generator (prices stay positive)")


@dataclass
class ImdbDataConfig:
    """The Large Movie Review Dataset: where to find it, how to tokenise it, and the classifier's input/head."""

    path: Optional[str] = None
    cache_dir: Optional[str] = None
    url: str = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    sha256: Optional[str] = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
    download: bool = True
    vocab_size: int = 20000
    max_len: int = 400
    truncate: str = "pre"
    pad: str = "pre"
    lowercase: bool = True
    token_pattern: str = "[a-z0-9']+"
    val_fraction: float = 0.1
    batch_size: int = 64
    bucket_by_length: bool = True
    embedding_dim: int = 128
    embedding_dropout: float = 0.0
    head_dropout: float = 0.0
    num_workers: int = 0
    wrong_examples: int = 10

    def text_settings(self) -> TextSettings:
        return TextSettings(self.vocab_size, self.max_len, self.truncate, self.pad, self.lowercase, self.token_pattern)

    def check(self) -> None:
        self.text_settings()  # vocab_size, max_len, truncate, pad, token_pattern: checked where they are used
        if not 0 < self.val_fraction < 1:
            raise UserError(f"data.val_fraction={self.val_fraction} is out of range; use a value in (0, 1)")
        _at_least("data.batch_size", self.batch_size, 1)
        _at_least("data.embedding_dim", self.embedding_dim, 1)
        _fraction("data.embedding_dropout", self.embedding_dropout)
        _fraction("data.head_dropout", self.head_dropout)
        _at_least("data.num_workers", self.num_workers, 0)
        _at_least("data.wrong_examples", self.wrong_examples, 0)


# source lengths (in tokens) a task generates when data.min_len / data.max_len are null
DEFAULT_LENGTHS = {"dates": (6, 29), "reverse": (5, 20), "numbers": (1, 9)}


@dataclass
class TranslationDataConfig:
    """Generated toy translation pairs (dates -> ISO, sequence reversal, digits -> words), split disjointly."""

    task: str = "dates"
    train_size: int = 20000
    val_size: int = 1000
    test_size: int = 1000
    min_len: Optional[int] = None
    max_len: Optional[int] = None
    symbols: int = 20
    batch_size: int = 64
    embedding_dim: int = 32
    num_workers: int = 0
    examples: int = 10
    heatmaps: int = 4

    def lengths(self) -> tuple[int, int]:
        """(min_len, max_len) with the task's defaults filled in."""
        low, high = DEFAULT_LENGTHS.get(self.task, (1, 1))
        return (low if self.min_len is None else self.min_len, high if self.max_len is None else self.max_len)

    def check(self) -> None:
        _choice("data.task", self.task, PAIR_TASKS)
        for key in ("train_size", "val_size", "test_size", "batch_size", "embedding_dim"):
            _at_least(f"data.{key}", getattr(self, key), 1)
        for key in ("num_workers", "examples", "heatmaps"):
            _at_least(f"data.{key}", getattr(self, key), 0)
        check_settings(self.task, *self.lengths(), self.symbols)


@dataclass
class DecodeConfig:
    """How the decoder of a translation model is fed while training and searched at test time."""

    teacher_forcing: float = 1.0
    beam_size: int = 5
    length_penalty: float = 1.0
    max_steps: Optional[int] = None

    def check(self) -> None:
        _fraction("decode.teacher_forcing", self.teacher_forcing, inclusive_high=True)
        if self.beam_size < 1:
            raise UserError(f"decode.beam_size={self.beam_size} is not valid; use 1 (greedy) or more beams")
        _at_least("decode.length_penalty", self.length_penalty, 0.0)
        if self.max_steps is not None:
            _at_least("decode.max_steps", self.max_steps, 1)


ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "auto")
STRATEGIES = ("auto", "ddp", "ddp_find_unused_parameters_true")
PROFILERS = ("simple", "advanced", "pytorch")  # Lightning's; null profiles nothing
PRECISIONS = ("32-true", "32", "64-true", "bf16-mixed", "16-mixed", "bf16-true", "16-true")


@dataclass
class TrainerConfig:
    """Arguments of Lightning's Trainer, plus the CPU settings applied in every training process."""

    accelerator: str = "cpu"
    devices: Any = 1
    strategy: str = "auto"
    precision: str = "32-true"
    max_epochs: int = 20
    min_epochs: int = 1
    gradient_clip_val: Optional[float] = 1.0
    deterministic: bool = False
    benchmark: Optional[bool] = None
    log_every_n_steps: int = 10
    check_val_every_n_epoch: int = 1
    num_sanity_val_steps: int = 2
    limit_train_batches: Any = None
    limit_val_batches: Any = None
    limit_test_batches: Any = None
    overfit_batches: Any = 0.0
    fast_dev_run: Any = False
    flush_denormal: bool = True
    num_threads: Optional[int] = None
    reuse_memory: bool = True
    profiler: Optional[str] = None

    def check(self) -> None:
        _choice("trainer.accelerator", self.accelerator, ACCELERATORS)
        _choice("trainer.strategy", self.strategy, STRATEGIES)
        _choice("trainer.precision", str(self.precision), PRECISIONS)
        if self.profiler is not None:
            _choice("trainer.profiler", self.profiler, PROFILERS)
        _at_least("trainer.max_epochs", self.max_epochs, 1)
        _at_least("trainer.min_epochs", self.min_epochs, 0)
        if self.gradient_clip_val is not None:
            _at_least("trainer.gradient_clip_val", self.gradient_clip_val, 0.0)
        if self.num_threads is not None:
            _at_least("trainer.num_threads", self.num_threads, 1)
        for key in ("limit_train_batches", "limit_val_batches", "limit_test_batches", "overfit_batches"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise UserError(f"trainer.{key}={value!r} is not valid; give a fraction (0.25) or a batch count (10)")


PROGRESS_BARS = ("rich", "tqdm", "none")


@dataclass
class CallbacksConfig:
    """Checkpointing, early stopping and what is shown while training."""

    monitor: Optional[str] = None
    mode: Optional[str] = None
    save_last: bool = True
    early_stopping: bool = True
    patience: int = 5
    min_delta: float = 0.0
    lr_monitor: bool = True
    progress_bar: str = "rich"
    progress_bar_refresh_rate: int = 10
    throughput_warmup_batches: int = 2

    def check(self) -> None:
        if self.mode is not None:
            _choice("callbacks.mode", self.mode, ("min", "max"))
        _at_least("callbacks.patience", self.patience, 1)
        _choice("callbacks.progress_bar", self.progress_bar, PROGRESS_BARS)
        _at_least("callbacks.progress_bar_refresh_rate", self.progress_bar_refresh_rate, 1)
        _at_least("callbacks.throughput_warmup_batches", self.throughput_warmup_batches, 0)


LOGGERS = ("tensorboard", "csv", "none")


@dataclass
class LoggerConfig:
    kind: str = "tensorboard"

    def check(self) -> None:
        _choice("logger.kind", self.kind, LOGGERS)


OPTIMIZERS = ("adam", "adamw")
SCHEDULERS = ("plateau", "onecycle", "none")


@dataclass
class OptimizerConfig:
    name: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    scheduler: str = "plateau"
    plateau_factor: float = 0.5
    plateau_patience: int = 2
    warmup_fraction: float = 0.3
    fused: bool = True

    def check(self) -> None:
        _choice("optimizer.name", self.name, OPTIMIZERS)
        if not self.lr > 0:
            raise UserError(f"optimizer.lr={self.lr} is not valid; use a learning rate > 0")
        _at_least("optimizer.weight_decay", self.weight_decay, 0.0)
        _choice("optimizer.scheduler", self.scheduler, SCHEDULERS)
        if not 0 < self.plateau_factor < 1:
            raise UserError(f"optimizer.plateau_factor={self.plateau_factor} is not valid; use a value in (0, 1)")
        _at_least("optimizer.plateau_patience", self.plateau_patience, 0)
        if not 0 < self.warmup_fraction < 1:
            raise UserError(f"optimizer.warmup_fraction={self.warmup_fraction} is not valid; use a value in (0, 1)")


@dataclass
class PathsConfig:
    log_dir: str = "logs"
    min_free_mb: int = 100

    def check(self) -> None:
        _at_least("paths.min_free_mb", self.min_free_mb, 0)


@dataclass
class Config:
    data: Any = MISSING
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    callbacks: CallbacksConfig = field(default_factory=CallbacksConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    task_name: str = MISSING
    seed: int = 0
    resume: Optional[str] = None
    tags: list[str] = field(default_factory=list)
    print_config: bool = True


DATA_SCHEMAS: dict[str, type] = {"stock": StockDataConfig, "imdb": ImdbDataConfig, "translation": TranslationDataConfig}


def register_schemas() -> None:
    """Store the schemas where the YAML files name them (`defaults: [/schema/...]`)."""
    store = ConfigStore.instance()
    store.store(name="rnnlab_schema", node=Config)
    for name, schema in DATA_SCHEMAS.items():
        store.store(group="schema/data", name=name, node=schema)


def to_config(cfg: DictConfig) -> Config:
    """Turn Hydra's composed config into typed dataclasses and check every section."""
    unknown = sorted(set(cfg.keys()) - {item.name for item in fields(Config)})
    if unknown:
        known = ", ".join(item.name for item in fields(Config))
        raise UserError(f"'{unknown[0]}' is not a config key; the top level has: {known}")
    config = OmegaConf.to_object(cfg)
    assert isinstance(config, Config) and is_dataclass(config.data), "config composed without its schema"
    for item in fields(config):
        section = getattr(config, item.name)
        if hasattr(section, "check"):
            section.check()
    return config
