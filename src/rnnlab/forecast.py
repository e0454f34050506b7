"""`python -m rnnlab.forecast ckpt=<run>/checkpoints/best.ckpt steps=12`: see rnnlab.run.forecast."""

from rnnlab.run.forecast import main

if __name__ == "__main__":
    main()
