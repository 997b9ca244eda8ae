#!/usr/bin/env python3
"""Trunk post-build hook: moves Trunk's inline loader script into a file of its own.

Trunk writes the code that loads the wasm as an inline <script type="module"> in index.html.
An inline script needs 'unsafe-inline' (or a per-build hash) in a Content-Security-Policy; as a
file beside the page it is covered by script-src 'self', so the page's policy (index.html's
meta tag, docs/embedding.md's header) never changes between builds. The file is named by its
content's hash, like Trunk's own assets, and carries an integrity attribute.
"""
import base64
import hashlib
import os
import re
import sys

staging = os.environ.get("TRUNK_STAGING_DIR") or sys.argv[1]
page = os.path.join(staging, "index.html")
html = open(page, encoding="utf-8").read()
inline = re.compile(r'<script type="module">(.*?)</script>', re.S)
found = inline.findall(html)
if len(found) != 1:
    sys.exit(f"externalize-loader: expected Trunk's one inline module script in {page}, found {len(found)}")
code = found[0].strip() + "\n"
data = code.encode("utf-8")
name = f"start-{hashlib.sha256(data).hexdigest()[:16]}.js"
with open(os.path.join(staging, name), "wb") as f:
    f.write(data)
sri = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
tag = f'<script type="module" src="./{name}" integrity="{sri}" crossorigin="anonymous"></script>'
with open(page, "w", encoding="utf-8") as f:
    f.write(inline.sub(lambda _: tag, html, count=1))
