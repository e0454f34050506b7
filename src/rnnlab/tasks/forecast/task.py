"""Forecasting: recurrent encoder + linear head, MSE loss, errors in original units beside baselines."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torchmetrics import MeanSquaredError
from torchmetrics.functional import mean_absolute_error, mean_squared_error

from rnnlab.models.config import ModelConfig
from rnnlab.models.encoder import RecurrentEncoder
from rnnlab.models.init import initialize_
from rnnlab.tasks.base import RecurrentTask
from rnnlab.tasks.forecast.data import ForecastSpec
from rnnlab.tasks.forecast.report import (
    compare_with_baselines,
    describe_series,
    forecast_figure,
    per_step_figure,
    per_step_rmse,
    per_step_table,
    rollout_figure,
)
from rnnlab.tasks.forecast.scaling import base_of, window_stats
from rnnlab.tasks.optimizer import OptimizerConfig


def forecast_errors(prediction: np.ndarray, actual: np.ndarray, mase_scale: float) -> dict[str, float]:
    """MAE, RMSE and MASE (MAE over the training part's mean one-step change), in original units."""
    p, a = torch.as_tensor(prediction), torch.as_tensor(actual)
    mae = float(mean_absolute_error(p, a))
    return {"mae": mae, "rmse": float(mean_squared_error(p, a, squared=False)), "mase": mae / mase_scale}


class ForecastTask(RecurrentTask):
    """Predicts the next `horizon` values of a series from a window of `seq_len` past values: all at once
    (data.strategy=direct), or one at a time from windows that end in its own forecasts (recursive)."""

    def __init__(
        self, model: ModelConfig, optimizer: OptimizerConfig, spec: ForecastSpec,
        monitor: str | None = None, mode: str | None = None,
    ) -> None:
        super().__init__(model, optimizer, spec, monitor, mode)
        self.encoder = RecurrentEncoder(model, spec.input_size)
        self.head = nn.Linear(self.encoder.summary_size, spec.outputs)
        initialize_(self, model.init)
        self.val_rmse = MeanSquaredError(squared=False)
        self.test_predictions: list[Tensor] = []

    def forward(self, windows: Tensor) -> Tensor:
        """Scaled windows [B, seq_len] (with input columns: [B, seq_len, 1 + F], the target first) -> scaled
        forecasts [B, outputs] (the horizon, or 1 for a recursive model)."""
        target, columns = (windows[..., 0], windows[..., 1:]) if windows.dim() == 3 else (windows, None)
        if self.spec.window:  # each window in its own units; the forecast is mapped back with them below
            centre, spread = window_stats(target, self.spec.window_floor)
            seen = (target - centre) / spread
        else:
            seen = target - target[:, -1:] if self.spec.relative else target
        seen = seen.unsqueeze(-1) if columns is None else torch.cat([seen.unsqueeze(-1), columns], dim=-1)
        _, summary = self.encoder(seen)
        if self.spec.window:
            return centre + spread * self.head(summary)
        if not self.spec.relative:
            return self.head(summary)
        return base_of(target, self.spec.outputs, self.spec.season) + self.head(summary)

    def forecast(self, windows: Tensor) -> Tensor:
        """Scaled windows -> scaled forecasts [B, horizon]: the model's outputs, or for a recursive model its
        one-step forecasts fed back in `horizon` times."""
        if self.spec.outputs == self.spec.horizon:
            return self(windows)
        return self.generate(windows, self.spec.horizon)

    def unscale(self, values: Tensor) -> Tensor:
        """What the model reads and predicts -> original units."""
        values = values * self.spec.scale + self.spec.shift
        return values.exp() if self.spec.log else values

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        windows, targets = batch
        loss = nn.functional.mse_loss(self(windows), targets)
        self.log_train_loss(loss, len(batch[0]), batch_idx)
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        windows, targets = batch
        prediction = self.forecast(windows)  # over the whole horizon for both strategies: comparable
        self.log("val/loss", nn.functional.mse_loss(prediction, targets), prog_bar=True, sync_dist=True)
        self.val_rmse(self.unscale(prediction), self.unscale(targets))
        self.log("val/rmse", self.val_rmse)

    def on_test_epoch_start(self) -> None:
        self.test_predictions = []

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        windows, _ = batch
        self.test_predictions.append(self.unscale(self.forecast(windows)).float().cpu())

    def on_test_epoch_end(self) -> None:
        data = self.trainer.datamodule
        prediction = torch.cat(self.test_predictions).numpy().astype(np.float64)
        count = len(prediction)  # fewer than all windows when trainer.limit_test_batches is set
        actual = data.windows["test"].targets[:count]
        references = {name: values[:count] for name, values in data.reference_forecasts().items()}
        scale = self.spec.mase_scale
        metrics = {f"test/{k}": v for k, v in forecast_errors(prediction, actual, scale).items()}
        for name, forecast in references.items():
            errors = forecast_errors(forecast, actual, scale)
            prefix = "test/noise_floor" if name == "oracle" else f"test/{name}"
            metrics.update({f"{prefix}_{k}": v for k, v in errors.items() if name != "oracle" or k == "rmse"})
        if "test/noise_floor_rmse" in metrics:
            metrics["test/rmse_over_noise_floor"] = metrics["test/rmse"] / metrics["test/noise_floor_rmse"]
        self.log_dict(metrics)
        starts = data.windows["test"].starts[:count]
        dates = data.series.dates
        self.test_report["series"] = data.summary
        if not self.spec.features:  # with input columns, their future values would be needed to feed back
            self.test_report["rollout"] = self._rollout_report(*data.rollout_windows())
        comparison = compare_with_baselines(metrics, self.spec.seq_len, data.season,
                                            data.summary["scaling"]["chosen"], len(data.windows["train"].starts))
        self.test_report["baselines"] = comparison
        self.test_report["verdict"] = describe_series(data.summary) + "\n" + comparison["verdict"]
        self.test_figures = {
            "forecast_vs_actual": forecast_figure(
                dates[starts] if dates is not None else starts, actual, prediction, references
            ),
        }
        if "rollout" in self.test_report:
            self.test_figures["rollout_error"] = rollout_figure(self.test_report["rollout"])
        if self.spec.horizon > 1:
            per_step = per_step_rmse({"model": prediction, **references}, actual)
            self.test_report["per_step"] = per_step
            self.test_report["table"] = per_step_table(per_step)
            self.test_figures["error_per_step"] = per_step_figure(per_step)

    @torch.no_grad()
    def generate(self, windows: Tensor, steps: int, block: int = 1) -> Tensor:
        """Continue scaled windows [N, seq_len] by `steps` values, feeding predictions back in: the first `block`
        values of each forecast (at most the horizon), then the window moved on by them."""
        generated: list[Tensor] = []
        done = 0
        while done < steps:
            if generated:
                windows = torch.cat([windows[:, generated[-1].shape[1]:], generated[-1]], dim=1)
            generated.append(self(windows)[:, : min(block, steps - done)])
            done += generated[-1].shape[1]
        return torch.cat(generated, dim=1)

    def _rollout_report(self, inputs: np.ndarray, actual: np.ndarray) -> dict[str, list[float]]:
        """RMSE per generated step of the autoregressive rollout, beside the naive forecast's."""
        scaled = torch.as_tensor(self.spec.to_model(inputs), dtype=torch.float32, device=self.device)
        generated = self.unscale(self.generate(scaled, actual.shape[1])).double().cpu().numpy()
        naive = np.repeat(inputs[:, -1:], actual.shape[1], axis=1)
        rmse = lambda forecast: np.sqrt(((forecast - actual) ** 2).mean(axis=0)).tolist()  # noqa: E731
        return {"model_rmse": rmse(generated), "naive_rmse": rmse(naive)}
