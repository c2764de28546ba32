#!/usr/bin/env bash
# Static checks of the compose stack (docker-compose.yml, Dockerfile context, otel/config/**).
#
# CI machines have no Docker daemon, so the stack itself is never started here: this proves the files parse, that
# the tools that own each format accept them, and that they agree with each other and with otel/contract.py.
#   1. docker-compose 1.29 (Debian's) accepts docker-compose.yml          docker-compose config -q
#   2. promtool (Debian's prometheus package) accepts prometheus.yml      promtool check config
#   3. the collector config is wired up: every component a pipeline names is defined, connectors are used on both
#      sides, receivers listen on 0.0.0.0, the span-metric buckets are the contract's
#   4. Grafana: provisioning YAML and dashboard JSON parse; the dashboard uses only provisioned data sources, and
#      only the metric and label names that otel/contract.py defines
#   5. cross-file: mounted paths exist, Prometheus scrapes only compose services on ports they listen on
# Installs what it needs with apt once; later runs skip that and take a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if ((${#need[@]})); then
    echo "static-checks: installing ${need[*]} (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # prometheus's maintainer script starts a daemon where systemd/invoke-rc.d allow it; we only want promtool.
    # policy-rc.d (exit 101) tells invoke-rc.d not to start services; removed again below.
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The project's interpreter (it has PyYAML and the contract); Debian's python3 has PyYAML via docker-compose.
if [[ -x .venv/bin/python ]]; then py=.venv/bin/python; else py=python3; fi

echo "static-checks: $(docker-compose version --short 2>/dev/null || docker-compose --version)"
docker-compose -f docker-compose.yml config -q
echo "ok   docker-compose config -q"

promtool check config otel/config/prometheus.yml >/dev/null
echo "ok   promtool check config otel/config/prometheus.yml ($(promtool --version 2>&1 | head -n1 | awk '{print $3}'))"

"$py" - <<'PY'
"""Cross-checks the tools above cannot make."""

import json
import re
import sys
from pathlib import Path

import yaml

from otel import contract

failures: list[str] = []


def check(ok: bool, what: str) -> None:
    if not ok:
        failures.append(what)


def load_yaml(path: str):
    with Path(path).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


# --- collector ---------------------------------------------------------------------------------------------------
col = load_yaml("otel/config/collector.yaml")
defined = {kind: set((col.get(kind) or {})) for kind in ("receivers", "processors", "exporters", "connectors", "extensions")}
service = col["service"]
pipelines = service["pipelines"]
check(bool(pipelines), "collector: no pipelines")
used_as = {"receivers": set(), "exporters": set()}
for name, pipe in pipelines.items():
    check(bool(pipe.get("receivers")) and bool(pipe.get("exporters")), f"collector: pipeline {name} lacks receivers/exporters")
    for kind in ("receivers", "processors", "exporters"):
        for comp in pipe.get(kind) or []:
            ok = comp in defined[kind] or (kind != "processors" and comp in defined["connectors"])
            check(ok, f"collector: pipeline {name} names undefined {kind[:-1]} {comp!r}")
            if kind in used_as:
                used_as[kind].add(comp)
    procs = pipe.get("processors") or []
    check(not procs or procs[0] == "memory_limiter", f"collector: pipeline {name}: memory_limiter must come first")
for conn in defined["connectors"]:
    check(conn in used_as["exporters"] and conn in used_as["receivers"],
          f"collector: connector {conn!r} must be an exporter in one pipeline and a receiver in another")
for kind in ("receivers", "processors", "exporters"):
    for comp in defined[kind] - {c for pipe in pipelines.values() for c in pipe.get(kind) or []}:
        failures.append(f"collector: {kind[:-1]} {comp!r} is defined but no pipeline uses it")
for ext in service.get("extensions") or []:
    check(ext in defined["extensions"], f"collector: service names undefined extension {ext!r}")
for proto, cfg in (col["receivers"]["otlp"]["protocols"]).items():
    check(str(cfg["endpoint"]).startswith("0.0.0.0:"), f"collector: otlp {proto} must listen on 0.0.0.0")


def millis(d: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(ms|s)", d)
    check(m is not None, f"collector: unparsable bucket {d!r}")
    return float(m[1]) * (1 if m[2] == "ms" else 1000) if m else 0.0


buckets = [millis(b) for b in col["connectors"]["spanmetrics"]["histogram"]["explicit"]["buckets"]]
check(buckets == [b * 1000 for b in contract.DURATION_BUCKETS_S],
      f"collector: spanmetrics buckets {buckets} (ms) differ from contract.DURATION_BUCKETS_S")
prom_exporter_port = col["exporters"]["prometheus"]["endpoint"].rsplit(":", 1)[1]
self_port = str(service["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]["port"])

# --- compose + prometheus --------------------------------------------------------------------------------------
compose = load_yaml("docker-compose.yml")
svcs = compose["services"]
for name, svc in svcs.items():
    for vol in svc.get("volumes") or []:
        src = vol.split(":", 1)[0]
        if src.startswith("."):
            check(Path(src).exists(), f"compose: {name} mounts {src}, which does not exist")
listens = {  # service → ports it serves inside the network
    "gateway": {svcs["gateway"]["environment"]["PP_GATEWAY_PORT"]},
    "retrieval": {svcs["retrieval"]["environment"]["PP_RETRIEVAL_PORT"]},
    "otel-collector": {prom_exporter_port, self_port},
    "prometheus": {"9090"},
}
prom = load_yaml("otel/config/prometheus.yml")
jobs = set()
for job in prom["scrape_configs"]:
    jobs.add(job["job_name"])
    for sc in job.get("static_configs", []):
        for target in sc["targets"]:
            host, port = target.rsplit(":", 1)
            if host == "localhost" and job["job_name"] == "prometheus":
                continue
            check(host in svcs, f"prometheus: job {job['job_name']} scrapes {host}, not a compose service")
            check(port in listens.get(host, set()), f"prometheus: job {job['job_name']} scrapes {target}: nothing listens there")
for needed in ("pp-gateway", "pp-retrieval", "otel-collector"):
    check(needed in jobs, f"prometheus: no scrape job {needed}")
for name in ("gateway", "retrieval"):
    env = svcs[name]["environment"]
    check(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") == "http://otel-collector:4318", f"compose: {name} OTLP endpoint")
    check(env.get("OTEL_EXPORTER_OTLP_PROTOCOL") == "http/protobuf", f"compose: {name} OTLP protocol")
    check("/ready" in " ".join(svcs[name]["healthcheck"]["test"]), f"compose: {name} healthcheck must probe /ready")

# --- grafana -----------------------------------------------------------------------------------------------------
ds = load_yaml("otel/config/grafana/provisioning/datasources/datasources.yaml")
uids = {d["uid"]: d for d in ds["datasources"]}
check({"prometheus", "jaeger"} <= {d["type"] for d in uids.values()}, "grafana: Prometheus and Jaeger data sources")
prov = load_yaml("otel/config/grafana/provisioning/dashboards/dashboards.yaml")
dash_dirs = [p["options"]["path"] for p in prov["providers"]]
mounts = {v.split(":")[1]: v.split(":")[0] for v in svcs["grafana"]["volumes"]}
check(all(d in mounts for d in dash_dirs), f"grafana: dashboard provider paths {dash_dirs} are not mounted")

# Prometheus names of the contract's metrics (OTLP → Prometheus: dots → _, unit suffix, _total for counters).
suffix = {contract.HTTP_SERVER_DURATION: "_seconds", contract.HTTP_CLIENT_DURATION: "_seconds",
          contract.MCP_SERVER_DURATION: "_seconds", contract.CACHE_REQUESTS: "_total",
          contract.PROCESS_MEMORY: "_bytes"}
metric_names = set()
for name, suf in suffix.items():
    base = name.replace(".", "_") + suf
    metric_names |= {base, base + "_bucket", base + "_count", base + "_sum"}
metric_names |= {"traces_span_metrics_duration_milliseconds_bucket", "traces_span_metrics_calls_total"}
attr_labels = {v.replace(".", "_") for k, v in vars(contract).items() if k.isupper() and isinstance(v, str) and "." in v}
label_names = attr_labels | {"le", "job", "instance", "service_name", "span_name", "span_kind", "status_code"}
for path in sorted(Path("otel/config/grafana/dashboards").glob("*.json")):
    try:
        dash = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        failures.append(f"grafana: {path}: {exc}")
        continue
    check(bool(dash.get("uid")) and bool(dash.get("title")), f"grafana: {path}: uid and title")
    exprs = []
    panels = [p for p in dash["panels"]] + [c for p in dash["panels"] for c in p.get("panels", [])]
    ids = [p["id"] for p in panels]
    check(len(ids) == len(set(ids)), f"grafana: {path}: duplicate panel ids")
    for p in panels:
        for obj in (p, *p.get("targets", [])):
            uid = (obj.get("datasource") or {}).get("uid")
            check(uid is None or uid in uids, f"grafana: {path}: panel {p.get('title')!r} uses unknown data source {uid}")
        exprs += [t["expr"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dash.get("templating", {}).get("list", []) if v.get("definition")]
    check(bool(exprs), f"grafana: {path}: no queries")
    for expr in exprs:
        plain = re.sub(r'"[^"]*"', '""', expr)  # drop string literals
        for metric in re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{", plain):
            check(metric in metric_names, f"grafana: {path}: {metric} is not a contract metric")
        for metric, label in re.findall(r"label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,\s*(\w+)\s*\)", plain):
            check(metric in metric_names, f"grafana: {path}: {metric} is not a contract metric")
            check(label in label_names, f"grafana: {path}: label {label} is not a contract attribute")
        labels = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", plain)
        for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", plain):
            labels += [g.strip() for g in group.split(",") if g.strip()]
        for label in labels:
            check(label in label_names, f"grafana: {path}: label {label} is not a contract attribute")
    print(f"ok   {path}: {len(panels)} panels, {len(exprs)} queries, contract names only")

shape = ", ".join(f"{k} {v['receivers']} -> {v['exporters']}" for k, v in pipelines.items())
print(f"ok   collector pipelines: {shape}")
print(f"ok   prometheus jobs: {', '.join(sorted(jobs))}")
print(f"ok   grafana data sources: {', '.join(sorted(uids))}")
if failures:
    print("\n".join(f"FAIL {f}" for f in failures), file=sys.stderr)
    sys.exit(1)
PY
echo "static-checks: all passed"
