"""The local executor: one worker process per run on this machine."""
