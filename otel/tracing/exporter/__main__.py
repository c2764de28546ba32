"""``python -m otel.tracing.exporter``: the span exporter process (started by ``otel.tracing.shipper``)."""

from otel.tracing.exporter.main import main

raise SystemExit(main())
