# Makes the configs importable as the package data `rnnlab.conf` (Hydra finds them through it when installed).
