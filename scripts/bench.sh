#!/usr/bin/env bash
# kpx's benchmarks, one table: native stage timings at 10 … 44,125 Services × 10 endpoints,
# the site's size, and the browser figures (tests/browser/bench.py). Measured, never asserted.
# `scripts/bench.sh --criterion` also runs the criterion benchmarks (cargo bench).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test >/dev/null
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

echo "== native (release): stage timings, YAML → dataplane → text"
cargo build --release -q -p kpx-core --example stages
for services in 10 100 1000 10000 44125; do
  echo "-- $services Services x 10 endpoints"
  target/release/examples/stages "$services" 10
done
# The same cluster as a reader pastes a real one (one List, every field the API server fills).
echo "-- 10000 Services x 10 endpoints, as kubectl get svc,endpointslices -A -o yaml prints them"
target/release/examples/stages 10000 10 --kubectl

if [ "${1:-}" = "--criterion" ]; then
  cargo bench -p kpx-core --bench generate
fi

echo "== site size (trunk build --release, gzip -9)"
trunk build --release >/dev/null 2>&1
total=0
for f in dist/*.wasm dist/kpx-web-*.js dist/kpx-*.css; do
  gz=$(gzip -9c "$f" | wc -c)
  total=$((total + gz))
  printf '%-48s %9d bytes  %8d gzipped\n' "$f" "$(wc -c <"$f")" "$gz"
done
printf '%-48s %28d gzipped (budget 358400)\n' "wasm + JS + CSS" "$total"

echo "== browser (headless Chromium)"
python3 tests/browser/bench.py
