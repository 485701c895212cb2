#!/usr/bin/env bash
# Keeps deploy/ honest:
#  1. the Grafana dashboard is valid JSON and every metric its queries use is one strait
#     exports: listed in docs/observability.md, and, when STRAIT_METRICS_FILE holds a scrape of
#     a real instance (the observe test passes one), present in that scrape;
#  2. the Kubernetes example's args are flags `strait run` accepts and its port is the one
#     strait.http.listen binds in its ConfigMap;
#  3. the Dockerfile builds, when a Docker engine answers (`docker info`); otherwise it says
#     it skipped. STRAIT_SKIP_DOCKER=1 skips it too.
# STRAIT_BIN: the strait binary (default target/debug/strait, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "deploy/check: FAIL: $*" >&2; exit 1; }

dashboard=deploy/grafana/strait-dashboard.json
python3 -m json.tool "$dashboard" >/dev/null || fail "$dashboard is not valid JSON"
used=$(python3 - "$dashboard" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
exprs = [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
exprs += [v.get("query", "") for v in d["templating"]["list"] if isinstance(v.get("query"), str)]
print("\n".join(sorted({m for e in exprs for m in re.findall(r"\bstrait_[a-z_]+", e)})))
PY
)
[ -n "$used" ] || fail "$dashboard uses no strait metric"
documented=$(grep -o '^| `strait_[a-z_]*`' docs/observability.md | tr -d '|` ' | sort -u)
scraped=""
if [ -n "${STRAIT_METRICS_FILE:-}" ]; then
  # Families as scraped: "# TYPE name counter" means name_total.
  scraped=$(awk '$1=="#" && $2=="TYPE" { print ($4=="counter") ? $3"_total" : $3 }' "$STRAIT_METRICS_FILE" | sort -u)
fi
for m in $used; do
  grep -qx "$m" <<<"$documented" || fail "dashboard uses $m, which docs/observability.md does not list"
  if [ -n "${STRAIT_METRICS_FILE:-}" ] && ! grep -qx "$m" <<<"$scraped"; then
    grep -qx "$m" <<<"${STRAIT_CONDITIONAL_METRICS:-}" \
      || fail "dashboard uses $m, which the scraped instance does not export"
  fi
done
echo "deploy/check: dashboard: $(wc -w <<<"$used") metrics, all exported"

bin=${STRAIT_BIN:-target/debug/strait}
[ -x "$bin" ] || cargo build -q -p strait
help=$("$bin" run --help)
k8s=deploy/k8s/strait.yaml
flags=$(python3 - "$k8s" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
args = re.search(r"args:\n((?:\s+- .*\n)+)", text).group(1)
print("\n".join(a for a in re.findall(r"- (\S+)", args) if a.startswith("--")))
PY
)
for f in $flags; do
  grep -q -- "$f" <<<"$help" || fail "$k8s passes $f, which \`strait run\` does not accept"
done
"$bin" --log-format json run --help >/dev/null || fail "--log-format json is not accepted"
listen=$(grep -o 'strait.http.listen = [0-9.]*:[0-9]*' "$k8s" | awk -F: '{print $NF}')
port=$(grep -o 'containerPort: [0-9]*' "$k8s" | awk '{print $2}')
[ -n "$listen" ] && [ "$listen" = "$port" ] || fail "$k8s: containerPort $port but strait.http.listen port $listen"
grep -q "EXPOSE $port" deploy/Dockerfile || fail "deploy/Dockerfile does not EXPOSE $port"
echo "deploy/check: k8s example: flags [$(echo $flags)] accepted, port $port matches"

if [ "${STRAIT_SKIP_DOCKER:-0}" = 1 ]; then
  echo "deploy/check: docker build SKIPPED (STRAIT_SKIP_DOCKER=1)"
elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  docker build -f deploy/Dockerfile -t strait:check . || fail "docker build failed"
  docker run --rm strait:check --version || fail "the image does not run"
  echo "deploy/check: docker image builds and runs"
else
  echo "deploy/check: docker build SKIPPED: no Docker engine answers \`docker info\`"
fi
