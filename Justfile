# Personal Pipeline — `just` lists the recipes.

set dotenv-load := false

# List the recipes
[private]
default:
    @just --list

# Install the project and its dev tools into the active Python environment
[group('setup')]
install:
    python -m pip install -e '.[dev]'

# Run the whole test suite (unit and integration, real Redis)
[group('test')]
test *ARGS:
    python -m pytest {{ARGS}}

# ruff (lint + format check), mypy --strict and the import contracts
[group('test')]
lint:
    ruff check .
    ruff format --check .
    mypy
    lint-imports

# Format the code
[group('test')]
fmt:
    ruff format .
    ruff check --fix .

# Run the whole stack until Ctrl-C: Redis (found or embedded), retrieval on :8081, the MCP gateway on :8080
[group('run')]
serve *ARGS:
    exec python -m services {{ARGS}}

# Run the retrieval service on PP_RETRIEVAL_HOST:PP_RETRIEVAL_PORT (default 127.0.0.1:8081)
[group('run')]
serve-retrieval:
    exec python -m services.retrieval

# Run a seed scenario (normal, peak, storm, stress, spike) on the embedded stack, or on --target URL
[group('load')]
load SCENARIO *ARGS:
    python -m loadtests load {{SCENARIO}} {{ARGS}}

# Judge a run against the targets from its spans and metrics (a reports/<run-id>/ folder, or --run-id/--source)
[group('load')]
validate *ARGS:
    python -m loadtests validate {{ARGS}}

# The multi-phase benchmark (warmup, baseline, load, cache, stress, memory) and the capacity search; --quick for CI
[group('bench')]
bench *ARGS:
    python -m loadtests bench {{ARGS}}

# Run a k6-style load script (python -m loadtests run --help)
[group('load')]
run SCRIPT *ARGS:
    python -m loadtests run {{SCRIPT}} {{ARGS}}

# Benchmark the load generator itself: requests/s of one worker, and its scheduler's lateness at 1,000/s
[group('bench')]
bench-loadgen *ARGS:
    python -m loadtests.engine.bench {{ARGS}}

# Benchmark the retrieval service: search latency in process, cached req/s and open-loop latency over HTTP
[group('bench')]
bench-retrieval *ARGS:
    python -m services.retrieval.bench {{ARGS}}

# What tracing costs: a cached MCP tools/call through both services, every telemetry variant side by side on one core
[group('bench')]
bench-gateway *ARGS:
    python -m services.gateway.bench {{ARGS}}

# Start the compose stack (docs/compose.md): Redis, OTel Collector, Jaeger, Prometheus, Grafana, both services
[group('compose')]
up *ARGS:
    docker compose up --detach --build --wait {{ARGS}}
    @echo "gateway http://127.0.0.1:8080/mcp · Jaeger http://127.0.0.1:16686 · Grafana http://127.0.0.1:3000 · Prometheus http://127.0.0.1:9090"

# Stop the compose stack; its volumes stay (`just down -v` removes them: Prometheus data, the feedback database)
[group('compose')]
down *ARGS:
    docker compose down {{ARGS}}

# Regenerate the shipped sample corpus (seeded, deterministic)
[group('setup')]
corpus:
    python -m services.retrieval.corpus.sample --out services/retrieval/corpus/default
