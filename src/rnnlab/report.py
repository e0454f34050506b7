"""`python -m rnnlab.report [--rerun-failed] <sweep folder>`: see rnnlab.sweeps.summary."""

from rnnlab.sweeps.summary import main

if __name__ == "__main__":
    main()
