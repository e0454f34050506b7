"""Weight initialisation schemes: PyTorch's defaults, or the one Keras uses (`model.init=keras`).

Keras tutorials train with glorot-uniform input weights, orthogonal recurrent weights, zero biases with
the LSTM forget gate's bias at 1, and word vectors drawn from U(-0.05, 0.05); PyTorch draws recurrent
weights from U(-1/sqrt(H), 1/sqrt(H)) and word vectors from N(0, 1). Keras's choice learns faster in
the first epochs of the tutorial recipes.
"""

from __future__ import annotations

import torch
from torch import nn


def _keras_recurrent_(rnn: nn.RNNBase) -> None:
    hidden = rnn.hidden_size
    for name, param in rnn.named_parameters():
        if name.startswith("weight_ih"):
            nn.init.xavier_uniform_(param)  # the whole [gates * H, I] kernel, as Keras's glorot_uniform
        elif name.startswith("weight_hh"):
            nn.init.orthogonal_(param)
        else:
            nn.init.zeros_(param)
            if isinstance(rnn, nn.LSTM) and name.startswith("bias_ih"):
                with torch.no_grad():
                    param[hidden : 2 * hidden] = 1.0  # gate order i, f, g, o: forget-gate bias 1


def initialize_(module: nn.Module, scheme: str) -> None:
    """Re-initialise every embedding, recurrent and linear layer inside `module` with `scheme`."""
    if scheme == "torch":
        return
    for layer in module.modules():
        if isinstance(layer, nn.RNNBase):
            _keras_recurrent_(layer)
        elif isinstance(layer, nn.Embedding):
            nn.init.uniform_(layer.weight, -0.05, 0.05)
            if layer.padding_idx is not None:
                with torch.no_grad():
                    layer.weight[layer.padding_idx].zero_()
        elif isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
