"""The Keras tutorial model trained on the saved IMDB batches; prints samples/s as JSON.

Runs in the Keras environment (`make bench` makes benchmarks/.venv with the `bench` extra): TensorFlow is kept
out of rnnlab's venv because TensorBoard imports it when present, which would slow every rnnlab run. Keras
compiles its training function on the first batch, so the first `--warmup` batches are not timed. With
`--epochs` it instead trains on the full arrays given (shuffled) and reports test accuracy after each epoch with
the wall time since the command started (time to accuracy), stopping at `--target`.

    python benchmarks/keras_loop.py TOKENS.npy LABELS.npy --cell lstm
"""

from __future__ import annotations

import argparse
import json
import os
import time

STARTED = time.perf_counter()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

LAYERS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}


def tutorial_model(cell: str) -> keras.Model:
    """Embedding(10k, 64) -> LSTM/GRU/SimpleRNN(64) -> Dense(1, sigmoid), Adam 1e-3, as in the tutorials."""
    model = keras.Sequential([keras.Input((None,), dtype="int32"), keras.layers.Embedding(10_000, 64),
                              LAYERS[cell](64), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    return model


class BatchClock(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.ends: list[float] = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.ends.append(time.perf_counter())


class TestEachEpoch(keras.callbacks.Callback):
    """Test accuracy after every epoch, with the wall time since the command started."""

    def __init__(self, tokens: np.ndarray, labels: np.ndarray, target: float) -> None:
        super().__init__()
        self.data, self.target, self.epochs = (tokens, labels), target, []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        _, accuracy = self.model.evaluate(*self.data, batch_size=256, verbose=0)
        self.epochs.append({"epoch": epoch + 1, "test_acc": accuracy, "seconds": time.perf_counter() - STARTED})
        self.model.stop_training = accuracy >= self.target


def throughput(tokens: np.ndarray, labels: np.ndarray, cell: str, warmup: int) -> float:
    batches, size = tokens.shape[:2]
    clock = BatchClock()
    tutorial_model(cell).fit(tokens.reshape(batches * size, -1), labels.reshape(-1), batch_size=size, epochs=1,
                             shuffle=False, verbose=0, callbacks=[clock])
    return (batches - warmup) * size / (clock.ends[-1] - clock.ends[warmup - 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tokens")
    parser.add_argument("labels")
    parser.add_argument("--cell", choices=sorted(LAYERS), default="lstm")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=0, help="train on full arrays, test after each epoch")
    parser.add_argument("--test", nargs=2, metavar=("TOKENS", "LABELS"), help="test arrays for --epochs")
    parser.add_argument("--target", type=float, default=1.0, help="with --epochs: stop at this test accuracy")
    parser.add_argument("--threads", type=int, help="TensorFlow intra- and inter-op threads (default: TF's)")
    args = parser.parse_args()
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    tokens, labels = np.load(args.tokens), np.load(args.labels)
    result: dict = {"tensorflow": tf.__version__, "keras": keras.__version__}
    if args.epochs:
        keras.utils.set_random_seed(0)
        tester = TestEachEpoch(*(np.load(path) for path in args.test), args.target)
        tutorial_model(args.cell).fit(tokens, labels, batch_size=64, epochs=args.epochs, verbose=0,
                                      callbacks=[tester])
        result["epochs"] = tester.epochs
    else:
        result["samples_per_s"] = throughput(tokens, labels, args.cell, args.warmup)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
