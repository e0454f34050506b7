"""The private (underscored or experimental) Lightning and Hydra APIs rnnlab relies on, in one place.

Each is used because the public API has no equivalent; tests/test_private_apis.py checks that each still
behaves as used here, so an upgrade that changes one fails there, with its name, instead of deep in a run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback as HydraCallback  # noqa: F401 (re-exported: the sweep callbacks)

if TYPE_CHECKING:  # Lightning takes seconds to import; `python -m rnnlab.report` does not need it
    import pytorch_lightning as pl


def declare_no_amp_scaling(optimizer: Any) -> None:
    """Tell Lightning a fused optimizer does not unscale gradients in its step (true under bf16, which needs no
    loss scaling): Lightning refuses gradient clipping with any optimizer whose `_step_supports_amp_scaling` is
    set (lightning_fabric's `_optimizer_handles_unscaling`)."""
    optimizer._step_supports_amp_scaling = False


def logger_writes_this_step(trainer: pl.Trainer) -> bool:
    """Whether Lightning writes step scalars to the logger on this step (every `log_every_n_steps`): the test
    Lightning's own LearningRateMonitor and ThroughputMonitor make."""
    return trainer._logger_connector.should_update_logs


def expand_sweep(overrides: list[str]) -> list[list[str]]:
    """Every job's overrides of a sweep command line, in job-number order, as Hydra's basic sweeper expands it."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    return BasicSweeper.split_arguments(parsed, max_batch_size=None)[0]
