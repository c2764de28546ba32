"""What a run shows and leaves: live progress, the end-of-test summary, the JSON summary (and its merge)."""
