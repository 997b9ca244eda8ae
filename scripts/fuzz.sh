#!/usr/bin/env bash
# Fuzzes kpx-core with cargo-fuzz (libFuzzer): YAML → every view, packets, shared links.
# Each target's corpus is seeded from the shipped scenarios, the shared scenarios and the
# fixtures (and, for links, their k1 states); findings land in target/fuzz/artifacts/.
#   scripts/fuzz.sh               every target, 60 s each
#   scripts/fuzz.sh 20            … 20 s each (the test command's brief run)
#   scripts/fuzz.sh 600 views     one target for ten minutes
# Prints one line per target: runs, runs per second, corpus size, and findings.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(views packets link)
export PATH="$HOME/.cargo/bin:$PATH"

if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz 0.13.2" ]; then
  echo "fuzz: installing cargo-fuzz 0.13.2 (about a minute)"
  cargo install cargo-fuzz --locked --version 0.13.2
fi
# The stable toolchain: libFuzzer's coverage instrumentation is made of stable codegen options;
# RUSTC_BOOTSTRAP lets cargo-fuzz's remaining -Z flags through without installing a nightly.
# No sanitizer: kpx-core has no unsafe code, and what is hunted is panics, hangs and blow-ups.
export RUSTC_BOOTSTRAP=1
work=target/fuzz
mkdir -p "$work"

seed() {
  local dir=$work/corpus/$1
  mkdir -p "$dir"
  local f
  for f in static/scenarios/*.yaml static/scenarios/*/*.yaml ../shared/scenarios/*.yaml ../shared/fixtures/*/*/input.yaml; do
    [ -f "$f" ] || continue
    if [ "$1" = link ]; then
      # A link's state (after `#k1.`), as `kpx link` writes it.
      target/release/kpx link "$f" | sed 's/^#k1\.//' >"$dir/$(echo "$f" | tr / _).link"
    else
      cp "$f" "$dir/$(echo "$f" | tr / _)"
    fi
  done
}

# `kpx link` writes the link corpus.
cargo build -q --release -p kpx
for t in "${targets[@]}"; do
  seed "$t"
  mkdir -p "$work/artifacts/$t"
  log=$work/$t.log
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: 2 GB is a blow-up.
  if cargo fuzz run --fuzz-dir fuzz --target-dir "$work/build" --sanitizer none "$t" "$work/corpus/$t" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=131072 \
      -artifact_prefix="$work/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corpus=$(find "$work/corpus/$t" -type f | wc -l)
  findings=$(find "$work/artifacts/$t" -type f | wc -l)
  printf 'fuzz %-8s %-6s %10s runs  %6s/s  corpus %5d  findings %d\n' "$t" "$status" "${runs:-?}" "${speed:-?}" "$corpus" "$findings"
  if [ "$status" != ok ]; then
    tail -40 "$log"
    exit 1
  fi
done
