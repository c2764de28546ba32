"""The span exporter process: span records from a service's pipe → OTLP/HTTP protobuf → the collector.

Run as ``python -m otel.tracing.exporter`` by ``otel.tracing.shipper``; never imported by a service.
"""
