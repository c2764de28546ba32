"""The fast tracer provider: the OpenTelemetry tracing API, with span export moved to a separate process.

``tracer`` and ``span`` implement ``opentelemetry.trace`` without SDK objects on the request path (``sampler`` and
``attributes`` hold the decisions and limits they inline). An ended span becomes one flat record (``wire``) in a
bounded buffer (``buffer``); a background thread ships batches (``shipper``) to the exporter process
(``exporter``), which speaks OTLP/HTTP. ``memory`` keeps records in a list for tests, ``sdk`` builds the stock SDK
provider for ``PP_TRACER_PROVIDER=sdk``, and ``bench`` measures both.
"""
