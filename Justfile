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

# Run the retrieval service on PP_RETRIEVAL_HOST:PP_RETRIEVAL_PORT (default 127.0.0.1:8081)
[group('run')]
serve-retrieval:
    python -m services.retrieval

# Benchmark the retrieval service: search latency in process, cached req/s and open-loop latency over HTTP
[group('bench')]
bench-retrieval *ARGS:
    python -m services.retrieval.bench {{ARGS}}

# Regenerate the shipped sample corpus (seeded, deterministic)
[group('setup')]
corpus:
    python -m services.retrieval.corpus.sample --out services/retrieval/corpus/default
