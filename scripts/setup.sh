#!/usr/bin/env bash
# Installs what kpx needs and is missing; skips everything already present (idempotent).
#   scripts/setup.sh site     toolchain for building the site (wasm target, trunk, wasm-bindgen, wasm-opt)
#   scripts/setup.sh test     the above, plus Chromium + ChromeDriver (browser tests), iptables, nftables and ipset (ground truth)
set -euo pipefail
cd "$(dirname "$0")/.."
want=${1:-site}
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

# From Debian, first (the cargo installs below link with it): a C compiler, Rust's linker;
# Python, for Trunk's post-build hook (scripts/externalize-loader.py); npm, which fetches
# wasm-opt below (a fresh Debian has no Node). The tests also need a C++ compiler (mimalloc for
# the native binaries, libFuzzer for the fuzz targets), Chromium and the real netfilter tools.
missing=()
command -v cc >/dev/null || missing+=(gcc)
command -v python3 >/dev/null || missing+=(python3)
command -v npm >/dev/null || missing+=(npm)
if [ "$want" = test ]; then
  command -v c++ >/dev/null || missing+=(g++)
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  # Ground truth for the save/list views: the real iptables in a network namespace.
  command -v iptables-restore >/dev/null || missing+=(iptables)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v nft >/dev/null || missing+=(nftables)
  command -v ipset >/dev/null || missing+=(ipset)
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} from Debian"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# Trunk 0.21.14: 0.22 needs a newer rustc than this toolchain.
if [ "$(trunk --version 2>/dev/null)" != "trunk 0.21.14" ]; then
  say "installing trunk 0.21.14 (about 7 minutes)"
  cargo install --locked trunk --version 0.21.14
fi

# wasm-bindgen-cli must be exactly the wasm-bindgen in Cargo.lock (Trunk cannot download it).
wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wbg" ]; then
  say "installing wasm-bindgen-cli $wbg (about 2 minutes)"
  # Not --locked: its lockfile pins a webpki-roots the registry no longer has.
  cargo install wasm-bindgen-cli --version "$wbg" --force
fi

# From the npm registry, local to the repository: wasm-opt (binaryen 132) and axe-core (the
# browser tests' accessibility audit), at the versions in tools/package-lock.json.
if [ ! -x tools/node_modules/.bin/wasm-opt ] || [ ! -f tools/node_modules/axe-core/axe.min.js ]; then
  say "installing binaryen (wasm-opt) and axe-core from npm into tools/"
  npm ci --prefix tools --no-audit --no-fund
fi
