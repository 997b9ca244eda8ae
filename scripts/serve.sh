#!/usr/bin/env bash
# Sets up whatever is missing, builds the site and serves it on http://127.0.0.1:8080 with the
# article's scenario loaded.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh site
export PATH="$PWD/tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# No autoreload: its inline script would break the page's Content-Security-Policy.
exec trunk serve --release --no-autoreload --address 127.0.0.1 --port 8080
