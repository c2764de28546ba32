"""OpenTelemetry for every Personal Pipeline process: providers, the telemetry contract, the embedded receiver.

This package imports nothing of ours, so services and load tests can both depend on it.
"""
