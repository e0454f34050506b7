"""`python -m rnnlab.generate ckpt=<run>/checkpoints/best.ckpt prompt="..."`: see rnnlab.run.generate."""

from rnnlab.run.generate import main

if __name__ == "__main__":
    main()
