#!/usr/bin/env bash
# Checks the deployment files without a Docker engine (none here): Prometheus config and alert rules (promtool,
# including rule unit tests), compose.yaml (Debian's docker-compose 1.29 `config`), the nginx proxy (`nginx -t`),
# Grafana provisioning and dashboard, and the Dockerfile's shape. Run by test.sh; ends with 'N passed, N failed'.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi
  "${SUDO[@]}" apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/tmp/signalstream-deploy-apt.log 2>&1 \
    || { tail -20 /tmp/signalstream-deploy-apt.log; echo "apt-get install ${need[*]} failed"; echo "0 passed, 1 failed"; exit 1; }
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

passed=0; failed=0
check() { # name, command...
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then
    passed=$((passed + 1)); echo "PASS $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; echo "$out" | sed 's/^/    /' | tail -40
  fi
}

work=$(mktemp -d /tmp/signalstream-deploy.XXXXXX)
trap 'rm -rf "$work"' EXIT

check "promtool check config deploy/prometheus/prometheus.yml" promtool check config deploy/prometheus/prometheus.yml
check "promtool check rules deploy/prometheus/alerts.yml" promtool check rules deploy/prometheus/alerts.yml
check "promtool test rules deploy/prometheus/tests/alerts.test.yml" promtool test rules deploy/prometheus/tests/alerts.test.yml
check "docker-compose -f compose.yaml config" docker-compose -f compose.yaml config -q

nginx_check() {
  # The upstream names resolve only inside compose; point them at loopback to check the syntax here.
  sed -E 's/server (hub[0-9]+):8080/server 127.0.0.1:8080/' deploy/nginx/nginx.conf > "$work/nginx.conf"
  "$NGINX" -t -q -p "$work" -c "$work/nginx.conf" -g "pid $work/nginx.pid; error_log $work/error.log;"
}
check "nginx -t deploy/nginx/nginx.conf" nginx_check

docker-compose -f compose.yaml config > "$work/compose.resolved.yaml" 2>/dev/null
export WORK=$work
check "compose: topology, roles, storage and fan-out settings" python3 - <<'PY'
import os, re, sys, yaml
c = yaml.safe_load(open(os.path.join(os.environ["WORK"], "compose.resolved.yaml")))
s = c["services"]
problems = []
for name in ("postgres", "redis", "prometheus", "grafana", "engine", "proxy"):
    if name not in s: problems.append(f"service {name} missing")
roles = {n: (v.get("environment") or {}).get("Node__Roles") for n, v in s.items()}
engines = [n for n, r in roles.items() if r == "engine"]
hubs = [n for n, r in roles.items() if r == "hub"]
if len(engines) != 1: problems.append(f"expected one engine node, found {engines}")
for n in engines:
    if str((s[n].get("environment") or {}).get("DOTNET_gcServer")) != "1": problems.append(f"{n}: an engine node runs server GC (DOTNET_gcServer=1; docs/operations.md)")
for n in hubs:
    if not (s[n].get("environment") or {}).get("Proxy__TrustedNetworks"): problems.append(f"{n}: behind nginx it must trust the proxy's forwarded address (Proxy__TrustedNetworks), or every client counts as nginx")
    if s[n].get("ports"): problems.append(f"{n}: publishes a port; with Proxy__TrustedNetworks only the proxy may reach it")
for n in [h for h in s if roles.get(h) == "hub"]:
    if str((s[n].get("environment") or {}).get("DOTNET_gcServer", "0")) == "1": problems.append(f"{n}: a hub node keeps workstation GC (the connection storm's promotion pause; docs/operations.md)")
if len(hubs) < 2: problems.append(f"expected at least two hub nodes, found {hubs}")
for n in engines + hubs:
    env = s[n]["environment"]
    if env.get("Storage__Provider") != "postgres": problems.append(f"{n}: Storage__Provider must be postgres")
    if not env.get("ConnectionStrings__Redis"): problems.append(f"{n}: ConnectionStrings__Redis unset")
    if "Host=postgres" not in env.get("ConnectionStrings__Postgres", ""): problems.append(f"{n}: ConnectionStrings__Postgres must point at the postgres service")
    if s[n].get("build", {}).get("dockerfile") != "Dockerfile": problems.append(f"{n}: must build from the Dockerfile")
    grace = str(s[n].get("stop_grace_period", "10s"))
    seconds = sum(int(v) * {"h": 3600, "m": 60, "s": 1}[u] for v, u in re.findall(r"(\d+)([hms])", grace))
    if seconds < 70: problems.append(f"{n}: stop_grace_period {grace} is shorter than the node's default shutdown budget (70 s)")
nginx = open("deploy/nginx/nginx.conf").read()
upstream = re.findall(r"^\s*server\s+([\w.-]+):8080", nginx, re.M)
upstream_ports = set(re.findall(r"^\s*server\s+[\w.-]+:(\d+)", nginx, re.M))
if sorted(upstream) != sorted(hubs): problems.append(f"nginx upstream {upstream} != hub services {hubs}")
if not re.search(r"^\s*ip_hash;", nginx, re.M): problems.append("nginx upstream is not sticky (ip_hash)")
for header in ("Upgrade $http_upgrade", "Connection $connection_upgrade"):
    if header not in nginx: problems.append(f"nginx does not pass '{header}' (WebSocket upgrade)")
log_format = re.search(r"log_format[^;]*;", nginx, re.S).group(0)
for leak in ("$request ", "$request\"", "$request_uri", "$args", "$query_string"):
    if leak in log_format: problems.append(f"nginx access log contains {leak.strip()} (would log ?access_token=)")
prom = yaml.safe_load(open("deploy/prometheus/prometheus.yml"))
targets = {t.split(":")[0] for job in prom["scrape_configs"] if job["job_name"].startswith("signalstream") for sc in job["static_configs"] for t in sc["targets"]}
if targets != set(engines + hubs): problems.append(f"prometheus targets {sorted(targets)} != engine+hub services {sorted(engines + hubs)}")
# Prometheus scrapes the management port (Management__Urls), which the nodes serve metrics on and nginx never proxies.
ports = {t.split(":")[1] for job in prom["scrape_configs"] if job["job_name"].startswith("signalstream") for sc in job["static_configs"] for t in sc["targets"]}
for n in engines + hubs:
    management = re.fullmatch(r"https?://[^:/]+:(\d+)", str(s[n]["environment"].get("Management__Urls", "")))
    if not management: problems.append(f"{n}: Management__Urls must be one http://host:port (metrics and health off the public port)")
    elif ports != {management.group(1)}: problems.append(f"prometheus scrapes ports {sorted(ports)}, but {n} serves metrics on {management.group(1)}")
    elif management.group(1) in upstream_ports: problems.append(f"{n}: the management port {management.group(1)} is the one nginx proxies to")
mounts = " ".join(v for v in s["grafana"]["volumes"] if isinstance(v, str))
if "provisioning" not in mounts or "dashboards" not in mounts: problems.append("grafana provisioning/dashboards not mounted")
print("\n".join(problems)); sys.exit(1 if problems else 0)
PY

check "grafana: provisioning and dashboard are consistent" python3 - <<'PY'
import json, glob, sys, yaml
problems = []
sources = [d for f in glob.glob("deploy/grafana/provisioning/datasources/*.yaml") for d in yaml.safe_load(open(f))["datasources"]]
uids = {d["uid"] for d in sources}
if not any(d["type"] == "prometheus" and d["url"] == "http://prometheus:9090" for d in sources): problems.append("no Prometheus datasource at http://prometheus:9090")
providers = [p for f in glob.glob("deploy/grafana/provisioning/dashboards/*.yaml") for p in yaml.safe_load(open(f))["providers"]]
if not any(p["options"]["path"] == "/var/lib/grafana/dashboards" for p in providers): problems.append("no dashboard provider for /var/lib/grafana/dashboards")
dashboards = glob.glob("deploy/grafana/dashboards/*.json")
if not dashboards: problems.append("no dashboard JSON")
for f in dashboards:
    d = json.load(open(f))
    ids = [p["id"] for p in d["panels"]]
    if len(ids) != len(set(ids)): problems.append(f"{f}: duplicate panel ids")
    for p in d["panels"]:
        for t in p.get("targets", []):
            if t.get("datasource", p.get("datasource", {})).get("uid") not in uids: problems.append(f"{f}: panel '{p['title']}' uses an unprovisioned datasource")
            if not t.get("expr"): problems.append(f"{f}: panel '{p['title']}' has a target without expr")
    text = json.dumps(d)
    for needle in ("signalstream_pipeline_latency_seconds_bucket", "histogram_quantile", "signalstream_signal_outcomes_total", "signalstream_persistence_lag_seconds", "dotnet_gc_collections_total"):
        if needle not in text: problems.append(f"{f}: no panel uses {needle}")
print("\n".join(problems)); sys.exit(1 if problems else 0)
PY

check "Dockerfile: sdk build stage, aspnet runtime, sources exist" python3 - <<'PY'
import os, re, sys
d = open("Dockerfile").read()
problems = []
stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\w+))?", d, re.M | re.I)
images = [s[0] for s in stages]
if len(stages) < 2 or "dotnet/sdk" not in images[0] or "dotnet/aspnet" not in images[-1]: problems.append(f"expected sdk build → aspnet runtime stages, got {images}")
for line in re.findall(r"^COPY\s+(?!--from)(.+)$", d, re.M):
    for src in line.split()[:-1]:
        if not os.path.exists(src): problems.append(f"COPY source {src} does not exist")
ignored = [l.strip() for l in open(".dockerignore") if l.strip() and not l.startswith("#")]
for needed in ("src", "Directory.Build.props", "Directory.Packages.props"):
    if needed in ignored: problems.append(f".dockerignore excludes {needed}")
if "ENTRYPOINT" not in d or "SignalStream.Hub.dll" not in d: problems.append("no ENTRYPOINT running SignalStream.Hub.dll")
if not re.search(r"ASPNETCORE_URLS=http://\+:8080", d): problems.append("the runtime does not listen on :8080 (compose, nginx and Prometheus expect it)")
print("\n".join(problems)); sys.exit(1 if problems else 0)
PY

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
