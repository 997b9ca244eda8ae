#!/usr/bin/env bash
# Sets up whatever is missing and runs every test: the Rust tests of kpx-core and the CLI,
# a build of the site, and the browser tests in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

echo "== cargo test (kpx-core, kpx CLI)"
# The views are compared with the real iptables in a network namespace (needs root, as CI is).
if [ "$(id -u)" = 0 ]; then export KPX_REQUIRE_REAL_IPTABLES=1; fi
cargo test --workspace --exclude kpx-web 2>&1 | tee .test-cargo.log
rust_passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' .test-cargo.log | awk '{s+=$4} END {print s+0}')
rm -f .test-cargo.log

echo "== kpx-web builds for wasm32 (the site)"
trunk build --release

echo "== browser tests (headless Chromium)"
python3 tests/browser/run.py | tee .test-browser.log
browser_passed=$(sed -n 's/^browser: \([0-9]*\) passed, 0 failed$/\1/p' .test-browser.log)
rm -f .test-browser.log

echo "== fuzzing, briefly (scripts/fuzz.sh: 20 s per target; docs/FUZZING.md)"
scripts/fuzz.sh 20 | tee .test-fuzz.log
fuzz_passed=$(grep -c '^fuzz .* ok ' .test-fuzz.log || true)
rm -f .test-fuzz.log

echo "== benchmark smoke (figures, not asserted; scripts/bench.sh has the full run)"
python3 tests/browser/bench.py --smoke

echo "total: $((rust_passed + browser_passed + fuzz_passed)) passed, 0 failed ($rust_passed Rust, $browser_passed browser, $fuzz_passed fuzz targets)"
