"""The embedded OTLP/HTTP receiver: the services' spans and metrics into a local store, for one machine.

``python -m otel.receiver [--host H] [--port P] [--store FILE] [--jsonl DIR] [--durable]`` listens on
127.0.0.1:4318 (the OTLP/HTTP default, so exporters find it unconfigured) and stores into
``.pp-data/telemetry.sqlite3``; each flag has a ``PP_RECEIVER_*`` variable (``--help``). Stopped with SIGINT/SIGTERM,
it commits everything it answered.

Protocol (OTLP/HTTP 1.x):

- ``POST /v1/traces``, ``POST /v1/metrics``: ``application/x-protobuf`` or ``application/json`` (OTLP/JSON: hex
  ids, integer enums, 64-bit integers as strings or numbers), plain, ``gzip`` or ``deflate``. A 200 comes once
  the data is committed, so it is queryable when the exporter returns, with an ``Export*ServiceResponse`` in the
  request's encoding; ``partial_success`` counts and explains items that could not be stored (a span id of the
  wrong length, histogram counts that do not match the bounds) while the rest are kept.
- ``POST /v1/logs``: decoded (a bad body still gets 400) and dropped; the store has no logs, and accepting them
  spares an exporter configured for logs from failing.
- 400 + ``google.rpc.Status`` for a body that cannot be decoded (nothing of it is stored); 413 over the body limit
  (64 MiB, compressed or inflated: a gzip bomb is cut off at the limit); 415 for other content types or encodings;
  503 + ``Retry-After`` when the store is failing or far behind (exporters retry); 404/405 elsewhere.
- ``GET /health`` (also ``/ready``, ``/live``): JSON counters; 503 if the writer has stopped.

Modules: ``app`` (ASGI, on uvicorn), ``decode`` (body → rows, on a decode thread), ``rows`` (OTLP → rows and the
partial-success rules), ``writer`` (group commit on the writer thread), ``store`` (SQLite schema, and why SQLite),
``jsonl`` and ``otlp_json`` (the ``--jsonl`` copy, in the Collector file exporter's format), ``query`` (the read
API for the validator), ``bench`` (``python -m otel.receiver.bench``: end-to-end ingest rate).
"""
