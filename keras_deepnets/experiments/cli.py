"""What scripts/reproduce.py and scripts/time_to_accuracy.py do around their experiment: one
`error: ...` line for a user's mistake, a resume hint on Ctrl-C, and the outputs printed."""

import sys


def run_and_print(fn, *args, **kwargs):
    """Calls `fn(*args, **kwargs)` (it returns a record with `outputs`: table, plot, json),
    prints the table and where the outputs are; exits with one line on a ValueError."""
    try:
        record = fn(*args, **kwargs)
    except ValueError as e:  # the training core's ConfigError is a ValueError too
        sys.exit(f"error: {e}")
    except KeyboardInterrupt:
        sys.exit("Interrupted; run the same command again to resume.")
    out = record["outputs"]
    with open(out["table"]) as f:
        print(f.read())
    print(f"Plot {out['plot']}, table {out['table']}, record {out['json']}.")
    return record
