"""The validator: one run's spans and metrics against the targets, the slowest path, a verdict and its reports.

Lowest first: ``spans`` (the neutral span), ``formats`` (OTLP JSON, Jaeger JSON, the store's spans),
``critical_path`` (Jaeger UI's algorithm and its aggregation over a run), ``sources`` (where spans and metrics
come from), ``client`` (the load generator's own view), ``targets``/``evaluate``/``quality``/``grading``/
``recommend``/``baseline`` (the judgement), ``verdict`` (what it concludes), ``run`` (putting it together).
"""
