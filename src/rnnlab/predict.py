"""`python -m rnnlab.predict ckpt=<run>/checkpoints/best.ckpt text="..."`: see rnnlab.run.predict."""

from rnnlab.run.predict import main

if __name__ == "__main__":
    main()
