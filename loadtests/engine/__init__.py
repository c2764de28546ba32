"""The run itself: scripts, VUs, executors on each worker's loop, workers and the coordinator that merges them.

One concern a module, lowest first: ``context`` (the current VU and recorder of a process), ``script`` (loading a
user's script with errors that name file and line), ``vu`` (what a script's ``default(vu)`` gets), ``timing`` (the
scheduler's clock and the event-loop lag probe), ``executors`` (k6's six executors driving VUs on one loop), ``wire``
(messages between worker and coordinator), ``worker`` (one process), ``coordinator`` (the run).
"""
