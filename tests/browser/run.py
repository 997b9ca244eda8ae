#!/usr/bin/env python3
"""Browser tests: the built site (dist/) in a real headless Chromium, driven over WebDriver.

Standard library only. Serves dist/ on a free loopback port, starts Debian's chromedriver
with a fresh profile per test, and checks what a reader sees and does: the article's rules on
load, edits that change every view and are marked, errors at line:col that keep the last good
output, every mode and the side-by-side compare, provenance on hover, links that reproduce a
state, scenarios. Every test fails on a console error. Screenshots of the main states are
written to target/browser-screenshots/ for review. Ends with "browser: N passed, N failed".
"""
import base64
import functools
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIST = os.path.join(ROOT, "dist")
SHOTS = os.path.join(ROOT, "target", "browser-screenshots")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C WebDriver element key
CHROME_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--window-size=1400,1000",
]


def start_chromedriver(port):
    """Debian's ChromeDriver on `port`, once it answers."""
    chromedriver = subprocess.Popen(["chromedriver", f"--port={port}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    return chromedriver


def free_ports(n):
    """`n` distinct free ports: all bound at once, so the kernel cannot hand one out twice."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm"}

    def log_message(self, *args):
        pass


class Strict(Quiet):
    """Serves the site with its Content-Security-Policy as a header, as docs/embedding.md says."""

    def end_headers(self):
        self.send_header("Content-Security-Policy", page_policy())
        super().end_headers()


class Slow(Quiet):
    """Serves the site, answering for its page `SLOW_SECONDS[0]` late (a slow static host)."""

    def do_GET(self):
        if self.path.startswith("/index.html"):
            time.sleep(SLOW_SECONDS[0])
        super().do_GET()


SLOW_SECONDS = [0.0]


class Driver:
    def __init__(self, port):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.profile = tempfile.mkdtemp(prefix="kpx-chromium-")
        self.downloads = tempfile.mkdtemp(prefix="kpx-downloads-")
        caps = {"capabilities": {"alwaysMatch": {
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium", "args": CHROME_ARGS + [f"--user-data-dir={self.profile}"],
                "prefs": {"download.default_directory": self.downloads, "download.prompt_for_download": False}}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read() or b"{}").get("value", {})

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def get(self, url):
        self.s("POST", "/url", {"url": url})

    def find(self, css):
        return self.s("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def text(self, css):
        return self.s("GET", f"/element/{self.find(css)}/text")

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def type(self, css, keys):
        self.s("POST", f"/element/{self.find(css)}/value", {"text": keys})

    def wait_for(self, what, predicate, timeout=30):
        end = time.time() + timeout
        last = None
        while time.time() < end:
            try:
                last = predicate()
                if last:
                    return last
            except Exception as e:  # element not there yet
                last = e
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; last: {last!r}")

    def console_errors(self):
        """Severe console entries since the last call (Chromium's browser log)."""
        entries = self.s("POST", "/se/log", {"type": "browser"}) or []
        return [e["message"] for e in entries if e.get("level") == "SEVERE"]

    def screenshot(self, name):
        os.makedirs(SHOTS, exist_ok=True)
        with open(os.path.join(SHOTS, name + ".png"), "wb") as f:
            f.write(base64.b64decode(self.s("GET", "/screenshot")))

    def hover(self, element):
        self.s("POST", "/actions", {"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                                                 "actions": [{"type": "pointerMove", "duration": 0, "x": 0, "y": 0,
                                                              "origin": element}]}]})

    def frame(self, element=None):
        """Switches into an iframe element (or back to the page with None)."""
        self.s("POST", "/frame", {"id": element})

    def cdp(self, cmd, params):
        return self.s("POST", "/goog/cdp/execute", {"cmd": cmd, "params": params})

    def size(self, width, height):
        self.s("POST", "/window/rect", {"width": width, "height": height})

    def js_async(self, script, *args):
        return self.s("POST", "/execute/async", {"script": script, "args": list(args)})

    def key(self, value):
        self.s("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions": [
            {"type": "keyDown", "value": value}, {"type": "keyUp", "value": value}]}]})

    def click(self, css):
        self.s("POST", f"/element/{self.find(css)}/click", {})

    def quit(self):
        try:
            self.s("DELETE", "")
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)
            shutil.rmtree(self.downloads, ignore_errors=True)


ARTICLE_LINE = ('-A KUBE-SVC-2CMXP7HKUVJN7L6M -m comment --comment "default/nginx" '
                '-m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-C2Y64IBVPH4YIBGX')
FOURTH_POD = """---
apiVersion: v1
kind: Pod
metadata:
  name: nginx-deployment-9456bbbf9-q4new
  namespace: default
  labels: {app: nginx}
spec:
  nodeName: minikube
  containers: [{name: nginx, ports: [{containerPort: 80}]}]
status:
  podIP: 172.17.0.6
  conditions: [{type: Ready, status: "True"}]
"""


def output(d, which="#output"):
    """What the reader sees in a view: its lines, one per line."""
    return d.js(f"const o = document.querySelector('{which}'); return o ? o.innerText : ''")


def choose(d, css, value):
    d.js("const s = document.querySelector(arguments[0]); s.value = arguments[1];"
         "s.dispatchEvent(new Event('change', {bubbles: true}));", css, value)


def tab(d, view, pane="output"):
    """Clicks a view's tab in a pane."""
    d.js("document.querySelector(arguments[0]).closest('.pane').querySelector(`.tab[data-view='${arguments[1]}']`).click()",
         f"#{pane}", view)


def set_text(d, text):
    """Replaces the editor's text, as select all and a paste would. (A long text's text box
    holds only the lines around those in sight, web/src/windowed.rs: there, select all is the
    reader's Ctrl+A.)"""
    if d.js("const e = document.querySelector('#editor.windowed'); if (e) e.focus(); return !!e"):
        keys = [{"type": "keyDown", "value": "\ue009"}, {"type": "keyDown", "value": "a"},
                {"type": "keyUp", "value": "a"}, {"type": "keyUp", "value": "\ue009"}]
        d.s("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions": keys}]})
    # (The caret at the start: a long text's window stays at the top.)
    d.js("const e = document.querySelector('#editor'); e.value = arguments[0]; e.setSelectionRange(0, 0);"
         "e.dispatchEvent(new InputEvent('input', {bubbles: true}));", text)


def caret_after(d, at, past=0):
    """Puts the editor's caret `past` characters after the first `at` in its text, scrolled
    into sight (a long text's window moved there first)."""
    text = editor_text(d)
    line = text.count("\n", 0, text.index(at))
    if d.js("return !!document.querySelector('#editor.windowed')"):
        d.js("document.querySelector('#text').scrollTop = arguments[0] * 19", max(0, line - 3))
        d.wait_for("the window over the line", lambda: d.js("return document.querySelector('#editor').value.includes(arguments[0])", at))
    d.js("const e = document.querySelector('#editor'); const i = e.value.indexOf(arguments[0]) + arguments[0].length + arguments[1];"
         "e.focus(); e.setSelectionRange(i, i);", at, past)


def edit_article_port(d, port):
    """Changes the article's nginx port to `port` and waits for the iptables rules to show it."""
    set_text(d, editor_text(d).replace("port: 8080, targetPort: 80", f"port: {port}, targetPort: 80"))
    d.wait_for(f"port {port} in the rules", lambda: f"--dport {port}" in output(d))


def editor_text(d):
    """The editor's whole text as typed (a long text's text box holds only some lines)."""
    # (Through the text box in builds before the window, for `bench.py --ab`.)
    return d.js("const w = window.wasmBindings; return w.kpxEditorText ? w.kpxEditorText() : document.querySelector('#editor').value")


def open_article(d, site):
    d.get(site)
    d.wait_for("the article's save view", lambda: ARTICLE_LINE in output(d))


def test_article_scenario_shows_its_chains_on_load(d, site):
    open_article(d, site)
    text = output(d)
    for chain in ["KUBE-SERVICES", "KUBE-SVC-2CMXP7HKUVJN7L6M", "KUBE-SEP-C2Y64IBVPH4YIBGX", "KUBE-MARK-MASQ", "KUBE-POSTROUTING"]:
        assert chain in text, chain
    assert "name: nginx" in editor_text(d) and "10.109.134.113" in editor_text(d)
    assert "The article's cluster" in d.text("#about summary")
    # The editor's coloured copy is the text itself, line for line.
    copy = d.js("return [...document.querySelectorAll('.colours .cl')].map(l => l.textContent.replace('\u200b', '')).join('\\n')")
    assert copy == editor_text(d)
    assert d.js("return document.querySelectorAll('.colours .y-key').length") > 50
    assert d.js("return document.querySelectorAll('.gutter .gl').length") == editor_text(d).count("\n") + 1
    d.screenshot("iptables-article")


def test_a_fourth_replica_updates_every_view_and_marks_the_diff(d, site):
    open_article(d, site)
    set_text(d, editor_text(d) + FOURTH_POD)
    quarter = '-m statistic --mode random --probability 0.25000000000 -j KUBE-SEP-'
    d.wait_for("a four-way cascade", lambda: quarter in output(d))
    added = d.js("return [...document.querySelectorAll('#output .vl.added')].map(l => l.innerText)")
    assert any("172.17.0.6" in a for a in added), added
    assert any(a.startswith("-A KUBE-SVC-2CMXP7HKUVJN7L6M") for a in added), added
    changes = d.text("#changes")
    assert "added" in changes and "removed" in changes and "rule in KUBE-SVC-2CMXP7HKUVJN7L6M" in changes, changes
    assert "172.17.0.6:80" in changes, changes
    d.screenshot("iptables-fourth-replica-diff")
    tab(d, "list")
    d.wait_for("iptables -L with four endpoints", lambda: "statistic mode random probability 0.25000000000" in output(d))
    assert d.js("return document.querySelectorAll('#output .vl.added').length") > 0
    choose(d, "#mode", "ipvs")
    d.wait_for("ipvsadm with four real servers", lambda: "  -> 172.17.0.6:80                Masq    1      0          0" in output(d))
    assert any("172.17.0.6" in a for a in d.js("return [...document.querySelectorAll('#output .vl.added')].map(l => l.innerText)"))
    choose(d, "#mode", "nftables")
    d.wait_for("numgen over four", lambda: "numgen random mod 4 vmap" in output(d))
    d.screenshot("nftables-fourth-replica-diff")
    # The next edit clears the marks.
    set_text(d, editor_text(d).replace("port: 8080, targetPort: 80", "port: 8081, targetPort: 80"))
    d.wait_for("the port edit", lambda: "10.109.134.113 . tcp . 8081" in output(d))
    added = d.js("return [...document.querySelectorAll('#output .vl.added')].map(l => l.innerText)")
    assert added and all("172.17.0.6" not in a or "8081" in a for a in added), added


def test_invalid_yaml_shows_line_and_column_and_keeps_output(d, site):
    open_article(d, site)
    lines = editor_text(d).count("\n") + 1
    d.js("const e = document.querySelector('#editor'); e.focus(); e.setSelectionRange(e.value.length, e.value.length);")
    d.type("#editor", "---\nkind: Service\nspec: {ports: [\n")
    err = d.wait_for("an error", lambda: d.text("#errors"))
    assert "line " in err and "col " in err, err
    line = int(err.split("line ")[1].split(",")[0])
    assert line >= lines, (err, lines)
    assert ARTICLE_LINE in output(d), "the last good output must stay"
    assert d.js("return document.querySelector('.output').classList.contains('stale')")
    marked = d.js("return [...document.querySelectorAll('.gutter .gl.err')].map(g => +g.textContent)")
    assert marked == [line], (marked, line)
    d.screenshot("iptables-error")
    # An out-of-range port: the API server's words, at the field's position.
    d.js("const e = document.querySelector('#editor');"
         "e.value = e.value.replace('spec: {ports: [\\n', '');"
         "e.value = e.value.replace('port: 8080, targetPort: 80', 'port: 70000, targetPort: 80');"
         "e.dispatchEvent(new InputEvent('input', {bubbles: true}));")
    err = d.wait_for("a port error", lambda: "70000" in d.text("#errors") and d.text("#errors"))
    assert "must be between 1 and 65535, inclusive" in err and "line " in err, err
    assert ARTICLE_LINE in output(d)
    # Clicking the error puts the caret there.
    d.click("#errors .goto")
    caret_line = d.js("const e = document.querySelector('#editor'); return e.value.slice(0, e.selectionStart).split('\\n').length")
    assert caret_line == int(err.split("line ")[1].split(",")[0]), caret_line


def test_every_mode_and_the_compare_view_render(d, site):
    open_article(d, site)
    choose(d, "#compare", "nftables")
    d.wait_for("nft list beside iptables-save",
               lambda: "numgen random mod 3 vmap" in output(d, "#output-2") and ARTICLE_LINE in output(d))
    d.screenshot("compare-iptables-nftables")
    choose(d, "#mode", "ipvs")
    d.wait_for("ipvsadm beside nft", lambda: "TCP  10.109.134.113:8080 rr" in output(d))
    choose(d, "#output-2-mode", "iptables")
    d.wait_for("iptables beside ipvsadm", lambda: ARTICLE_LINE in output(d, "#output-2"))
    d.screenshot("compare-ipvs-iptables")
    tab(d, "list", "output-2")
    d.wait_for("iptables -L in the compared pane", lambda: "Chain KUBE-SERVICES" in output(d, "#output-2"))
    choose(d, "#compare", "")
    d.wait_for("one pane again", lambda: not d.js("return !!document.querySelector('#output-2')"))


def test_each_view_is_a_tab(d, site):
    open_article(d, site)
    expected = {
        "iptables": {"restore": "*nat", "save": ARTICLE_LINE, "list": "tcp dpt:webcache", "get-svc": "nginx        ClusterIP   10.109.134.113",
                     "get-ep": "172.17.0.3:80", "get-endpointslices": "nginx-", "get-pods": "nginx-deployment-9456bbbf9-zbtt2"},
        "ipvs": {"ipvsadm": "TCP  10.109.134.113:8080 rr", "addr": "inet 10.109.134.113/32 scope global kube-ipvs0",
                 "ipset": "Name: KUBE-CLUSTER-IP", "save": "-A KUBE-SERVICES"},
        "nftables": {"nft": "add chain ip kube-proxy services", "nft-list": "table ip kube-proxy {", "nft-load": "add table ip kube-proxy"},
    }
    for mode, views in expected.items():
        choose(d, "#mode", mode)
        for view, want in views.items():
            tab(d, view)
            d.wait_for(f"{mode} {view}", lambda: want in output(d))
            assert d.js("return document.querySelector('.tab[aria-selected=true]').dataset.view") == view
        d.screenshot(f"{mode}-views")


def test_hovering_a_sep_rule_names_its_pod_and_highlights_its_yaml(d, site):
    open_article(d, site)
    rule = d.js("""for (const l of document.querySelectorAll('#output .vl'))
                     if (l.innerText.startsWith('-A KUBE-SEP-C2Y64IBVPH4YIBGX') && l.innerText.includes('DNAT')) return l;""")
    d.hover(rule)
    why = d.wait_for("the explanation", lambda: "Pod default/nginx-deployment-9456bbbf9-zbtt2" in d.text("#why") and d.text("#why"))
    assert "endpoint 172.17.0.3:80" in why and "Service default/nginx" in why, why
    marked = d.js("return [...document.querySelectorAll('.colours .cl.src')].map(l => l.textContent)")
    assert any("name: nginx-deployment-9456bbbf9-zbtt2" in m for m in marked), marked
    assert any("podIP: 172.17.0.3" in m for m in marked), marked
    assert not any("nginx-deployment-9456bbbf9-6dmhv" in m for m in marked), "only this endpoint's pod"
    glossary = d.text("#glossary")
    assert "DNAT" in glossary and "Destination NAT" in glossary, glossary
    d.screenshot("iptables-hover-provenance")


def test_glossary_odds_and_chain_links(d, site):
    open_article(d, site)
    odds = d.js("return [...document.querySelectorAll('#output .odds')].map(o => o.innerText)")
    assert any("Endpoint 1 of 3" in o and "1/3" in o for o in odds), odds
    assert any("2/3 × 1/2 = 1/3" in o for o in odds), odds
    title = d.js("return document.querySelector(\"#output .term[data-term='KUBE-MARK-MASQ']\").title")
    assert "0x4000" in title, title
    assert d.js("return document.querySelector(\"#output .term[data-term='statistic']\").title").startswith("Random match")
    # A chain name leads to where the chain is declared.
    d.js("document.querySelector(\"#output .link[data-link='KUBE-SVC-2CMXP7HKUVJN7L6M']\").click()")
    d.wait_for("the declaration selected",
               lambda: d.js("return document.querySelector('#output .vl.selected').innerText").startswith(":KUBE-SVC-2CMXP7HKUVJN7L6M"))
    # Keyboard: the next line, and the explanation follows.
    d.js("document.querySelector('.output').focus()")
    d.s("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions": [
        {"type": "keyDown", "value": "\ue015"}, {"type": "keyUp", "value": "\ue015"}]}]})
    d.wait_for("the next line selected",
               lambda: d.js("return document.querySelector('#output .vl.selected').innerText").startswith(":KUBE-SVC-")
               and d.text("#explain") != "")
    choose(d, "#mode", "nftables")
    d.wait_for("nft-list", lambda: "numgen random mod 3" in output(d))
    odds = d.js("return [...document.querySelectorAll('#output .odds')].map(o => o.innerText)")
    assert any("each of the 3 endpoints gets 1/3" in o for o in odds), odds
    choose(d, "#mode", "ipvs")
    d.wait_for("ipvsadm", lambda: "rr" in output(d))
    odds = d.js("return [...document.querySelectorAll('#output .odds')].map(o => o.innerText)")
    assert any("each gets 1 in 3" in o for o in odds), odds


def test_a_copied_link_restores_the_state_in_a_fresh_page(d, site):
    open_article(d, site)
    set_text(d, editor_text(d) + FOURTH_POD)
    choose(d, "#mode", "ipvs")
    tab(d, "addr")
    choose(d, "#compare", "nftables")
    d.wait_for("kube-ipvs0 beside nft", lambda: "kube-ipvs0" in output(d) and "numgen random mod 4" in output(d, "#output-2"))
    d.click("#copy-link")
    d.wait_for("copied", lambda: "Link copied" in d.text(".share"))
    # (The share box gets the link in a task after the drawing: web/src/main.rs, use_kept.)
    link = d.wait_for("the link in the share box", lambda: d.js("return document.querySelector('#share-url').value"))
    assert "#k1." in link, link
    want = (editor_text(d), output(d), output(d, "#output-2"))
    fresh = Driver(d.port)
    try:
        fresh.get(link)
        fresh.wait_for("the same views", lambda: output(fresh) == want[1] and output(fresh, "#output-2") == want[2])
        assert editor_text(fresh) == want[0]
        assert fresh.js("return document.querySelector('#mode').value") == "ipvs"
        assert fresh.js("return document.querySelector('.tab[aria-selected=true]').dataset.view") == "addr"
        assert not fresh.console_errors()
    finally:
        fresh.quit()


def test_a_bad_link_says_so_and_keeps_the_page_working(d, site):
    open_article(d, site)
    d.get(site + "#k1.definitely-not-a-state")
    d.wait_for("the problem", lambda: "could not be opened" in d.text("#link-problem"))
    d.wait_for("the last work", lambda: ARTICLE_LINE in output(d))


def test_text_survives_a_reload(d, site):
    open_article(d, site)
    edit_article_port(d, 8081)
    d.js("location.reload()")
    d.wait_for("the edited text after reload", lambda: "--dport 8081" in output(d))
    assert "port: 8081" in editor_text(d)
    # A new visit without the link starts from the saved work too.
    d.get(site)
    d.wait_for("the edited text on a new visit", lambda: "--dport 8081" in output(d))


def test_keys_typed_while_a_reload_loads_are_kept(d, site):
    """A reload goes to the address the page had when it was asked for. On a slow host the
    reader may type on meanwhile, each change written over the address: the reload opens the
    latest change, not that address (web/src/keep.rs, left_at remembers every address the page
    showed). It opened the address: the changes since were lost."""
    d.get(SLOW_SITE)
    d.wait_for("the article's save view", lambda: ARTICLE_LINE in output(d))
    edit_article_port(d, 8081)
    in_address = lambda port: d.js("return location.hash") == d.js("return '#' + JSON.parse(localStorage.getItem('kpx.state'))") and f"--dport {port}" in output(d)
    d.wait_for("the change in the address", lambda: in_address(8081))
    SLOW_SECONDS[0] = 3.0
    try:
        # Two keys typed after the reload was asked for, each kept (and written to the address)
        # before the host answers. (From the page itself: the driver waits for the reload.)
        d.js("""window.__kpxBeforeReload = true;
                location.reload();
                const key = (from, to) => {
                  const e = document.querySelector('#editor');
                  e.value = e.value.replace(`port: ${from}, targetPort`, `port: ${to}, targetPort`);
                  e.dispatchEvent(new InputEvent('input', {bubbles: true}));
                };
                setTimeout(() => key(8081, 8082), 300);
                setTimeout(() => key(8082, 8083), 1200);""")
        d.wait_for("the reloaded page", lambda: d.js("return !window.__kpxBeforeReload") and "--dport" in output(d), timeout=60)
    finally:
        SLOW_SECONDS[0] = 0.0
    d.wait_for("the latest change", lambda: "--dport 8083" in output(d))
    assert "port: 8083, targetPort" in editor_text(d)
    assert not d.js("return !!document.querySelector('#work-notice')"), d.text("#work-notice")


def test_the_texts_own_mode_is_followed_when_edited(d, site):
    """A scenario opens in its mode (the article: `Open: mode=iptables view=save`), and a mode
    chosen from the menu is shown whatever the text says; but an edit of the text's own mode
    (its KubeProxyConfiguration's `mode:`) is the reader's latest word, and is shown, in its
    default view (web/src/state.rs, mode_of). It changed nothing: the scenario's mode held. And a
    reload does not choose the address's `?mode=` again (web/src/main.rs, initial)."""
    d.get(site + "?scenario=article&mode=iptables")
    d.wait_for("the article's save view", lambda: ARTICLE_LINE in output(d))
    set_text(d, editor_text(d).replace("mode: iptables", "mode: ipvs", 1))
    d.wait_for("the IPVS tables", lambda: "TCP  10.109.134.113:8080 rr" in output(d))
    assert d.js("return document.querySelector('#mode').value") == "ipvs"
    # A mode chosen from the menu still wins over the text, edits of other lines too...
    choose(d, "#mode", "iptables")
    d.wait_for("the iptables rules, as chosen", lambda: "-A KUBE-SERVICES" in output(d))
    set_text(d, editor_text(d).replace("port: 8080, targetPort: 80", "port: 8081, targetPort: 80"))
    d.wait_for("the port edit, in iptables mode still", lambda: "--dport 8081" in output(d))
    # ... until the text's own mode is edited again; and that is what a reload opens.
    set_text(d, editor_text(d).replace("mode: ipvs", "mode: nftables", 1))
    d.wait_for("the nftables table", lambda: "table ip kube-proxy" in output(d))
    d.js("location.reload()")
    d.wait_for("the nftables table after a reload", lambda: "table ip kube-proxy" in output(d) and "8081" in output(d))
    assert d.js("return document.querySelector('#mode').value") == "nftables"
    # A large text's edit, made in steps (web/src/typing.rs), plans its views in the mode the
    # edit sets, not the one shown.
    import bench
    set_text(d, bench.big_scenario(1000).replace("kind: KubeProxyConfiguration\n", "kind: KubeProxyConfiguration\nmode: iptables\n", 1))
    idle = lambda: page_idle(d)
    d.wait_for("1,000 Services in iptables mode", lambda: d.js("return document.querySelector('.output').classList.contains('virtual') && document.querySelector('#mode').value == 'iptables'") and idle(), timeout=60)
    # (Chosen from the menu too: the edit below lets the choice go, not the text's mode.)
    choose(d, "#mode", "iptables")
    d.wait_for("the choice made", idle, timeout=60)
    d.js("const e = document.querySelector('#editor'); e.value = e.value.replace('mode: iptables', 'mode: ipvs');"
         "e.dispatchEvent(new InputEvent('input', {bubbles: true}));")
    d.wait_for("1,000 Services in IPVS mode", lambda: "TCP  10.96.0.2:80 rr" in output(d) and idle(), timeout=60)
    assert d.js("return document.querySelector('#mode').value") == "ipvs"


def test_invalid_text_is_saved_too(d, site):
    open_article(d, site)
    broken = editor_text(d) + "---\napiVersion: v1\nkind: Service\nmetadata: {name: half-typed\n"
    set_text(d, broken)
    d.wait_for("the error", lambda: d.js("return !!document.querySelector('#errors.has-errors')"))
    d.js("location.reload()")
    d.wait_for("the invalid text after reload", lambda: editor_text(d) == broken)
    d.get("about:blank")
    d.get(site)  # a new visit, without the link
    d.wait_for("the invalid text on a new visit", lambda: editor_text(d) == broken)
    d.wait_for("its error, again", lambda: d.js("return !!document.querySelector('#errors.has-errors')"))

def assert_in_tasks(d, measure):
    """Work the page does in steps (web/src/typing.rs) is measured once a task: work that took
    longer than a task's slice (40 ms) must have been measured in several tasks, and none long."""
    took = d.js(f"return performance.getEntriesByName('{measure}').map(m => m.duration)")
    assert took, f"no {measure}"
    assert len(took) > 1 or sum(took) <= 45, f"{measure}: {sum(took):.0f} ms in one task"
    assert max(took) < 90, f"{measure}: a task of {max(took):.0f} ms"


def test_a_cluster_pasted_as_kubectl_prints_it_is_read_and_edited(d, site):
    """`kubectl get svc,endpointslices -A -o yaml` prints a cluster as one List whose `kind`
    follows its items (kpx_core::input reads each item as it is complete, and keeps them once the
    List ends): pasted, it shows each item's rules; a key typed into an item shows its change."""
    open_article(d, site)
    d.wait_for("the hooks", lambda: d.js("return !!(window.wasmBindings && window.wasmBindings.kpxBenchText)"))
    text = d.js("return window.wasmBindings.kpxBenchText(3, 2, 'iptables', true)")
    assert "\nitems:\n- apiVersion: v1\n" in text and text.endswith("kind: List\nmetadata:\n  resourceVersion: \"\"\n")
    set_text(d, text)
    svc2 = '--comment "scale/svc2:http cluster IP" -m tcp --dport '
    d.wait_for("the List's rules", lambda: svc2 + "80 " in output(d) and page_idle(d))
    assert not d.js("return document.querySelector('#errors.has-errors')")
    assert output(d).count('-m comment --comment "scale/svc') > 9, output(d)
    # svc2's port, 80 → 800, typed as a reader types it.
    caret_after(d, "    - name: http\n      nodePort: 30002\n      port: 80")
    d.key("0")
    d.wait_for("port 800 in the rules", lambda: svc2 + "800 " in output(d) and page_idle(d))
    assert svc2 + "80 " not in output(d)
    assert "      port: 800\n" in editor_text(d)
    assert not d.js("return document.querySelector('#errors.has-errors')")


def test_a_large_text_survives_a_reload(d, site):
    """Work is kept as a link fragment (web/src/main.rs, use_kept): one past 4 MiB used to be
    kept and then refused on reload as a DEFLATE bomb (kpx_core::share::MAX_STATE), losing it."""
    open_article(d, site)
    d.wait_for("the hooks", lambda: d.js("return !!(window.wasmBindings && window.wasmBindings.kpxBenchText)"))
    # kpx's own generated cluster (`kpx scale`): 5,000 Services of 10 endpoints, 4.4 MB.
    text = d.js("return window.wasmBindings.kpxBenchText(5000, 10, 'iptables', false)")
    assert len(text) > 4 << 20
    d.js("performance.clearMeasures('kpx:link')")  # the article's own links are not counted
    set_text(d, text)
    large = lambda: d.js("return document.querySelector('.output').classList.contains('virtual')")
    idle = lambda: page_idle(d)
    d.wait_for("5,000 Services", lambda: large() and idle(), timeout=120)
    assert not d.js("return document.querySelector('#errors.has-errors')")
    saved = lambda: d.js("return localStorage.getItem('kpx.state') || ''")
    kept = d.wait_for("the work kept", lambda: len(saved()) > 100_000 and saved())
    # Its link was made in parts of its own (web/src/main.rs, `use_kept`), not in one task.
    assert_in_tasks(d, "kpx:link")
    d.js("location.reload()")
    d.wait_for("the text after reload", lambda: large() and idle(), timeout=120)
    assert not d.js("return document.querySelector('#link-problem')"), d.text("#link-problem")
    # Opened large, it is analysed in steps (web/src/typing.rs, `analyse_opened`), as a paste
    # is, not in one task before the page is drawn (about 1.5 s here).
    for measure in ["kpx:read", "kpx:analyze"]:
        assert_in_tasks(d, measure)
    # And decoded in parts before the page was mounted (web/src/opening.rs), not in the task
    # of its first drawing.
    assert_in_tasks(d, "kpx:open")
    first_render = d.js("return performance.getEntriesByName('kpx:first-render')[0].startTime")
    opened = d.js("return Math.max(...performance.getEntriesByName('kpx:open').map(m => m.startTime + m.duration))")
    assert opened <= first_render, f"opening ended at {opened:.0f} ms, after the first drawing at {first_render:.0f}"
    # Kept again as it was: had the page opened anything else, that would be kept instead.
    time.sleep(1)
    assert saved() == kept, "the work after the reload is not the work before it"


# What the page had as it left (a listener after the page's own), for a failure to say which
# step lost the change: the address, the work kept, the tab's note (web/src/keep.rs, left_at),
# and what the page measured since the key.
AS_THE_PAGE_LEFT = r"""
// (Errors met meanwhile: a panic in the page's own `pagehide` would leave the change unkept.)
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message).slice(0, 200)));
const consoleError = console.error.bind(console);
console.error = (...args) => { window.__errors.push(args.join(' ').slice(0, 200)); consoleError(...args); };
window.addEventListener('pagehide', () => {
  const tail = s => s ? `${s.length} chars ...${s.slice(-12)}` : 'none';
  const measured = performance.getEntriesByType('measure').filter(m => m.startTime > window.__keyAt);
  sessionStorage.setItem('kpx.test.left', JSON.stringify({
    address: tail(location.hash), kept: tail(localStorage.getItem('kpx.state')),
    note: tail(sessionStorage.getItem('kpx.left')),
    addresses: ((sessionStorage.getItem('kpx.left') || '').split('|')[0].length / 16),
    typed: (document.querySelector('#editor') || {value: ''}).value.includes('port: 87}'),
    busy: document.querySelector('#busy').classList.contains('waiting'),
    errors: window.__errors,
    measured: measured.map(m => m.name).join(' ')}));
});"""
LEFT = "return sessionStorage.getItem('kpx.test.left')"
RELOADED = "const n = performance.getEntriesByType('navigation')[0]; return `${n.type} ...${n.name.slice(-12)}`"


def page_idle(d):
    """Whether the page no longer says it is busy analysing (web/src/typing.rs, `busy`)."""
    return not d.js("return document.querySelector('#busy').classList.contains('waiting')")


def open_1000_services(d, site):
    """Opens the page and puts bench.big_scenario(1000) in place of the article, then waits
    until its rules are shown (a large text's windowed view) and the page is idle."""
    import bench
    d.get(site)
    d.wait_for("the page", lambda: ARTICLE_LINE in output(d))
    set_text(d, bench.big_scenario(1000))
    large = lambda: d.js("return document.querySelector('.output').classList.contains('virtual')")
    d.wait_for("1,000 Services", large, timeout=60)
    d.wait_for("the page to be idle", lambda: page_idle(d))


def reload_as_a_change_is_kept(d, site, measure):
    """Types a key into 1,000 Services and reloads the page as the page first records `measure`
    for it (between two of its steps): the reload opens the change (web/src/keep.rs, left_at)."""
    open_1000_services(d, site)
    idle = lambda: page_idle(d)
    saved = lambda: d.js("return localStorage.getItem('kpx.state') || ''")
    d.wait_for("the work kept", lambda: len(saved()) > 10_000)
    time.sleep(1)
    d.js("window.__kpxBeforeReload = true; window.__keyAt = performance.now();" + AS_THE_PAGE_LEFT)
    before = d.js("return location.href")
    when_first_measured(d, measure, "location.reload();")
    d.js(TYPE_PORT_87)
    d.wait_for("the reloaded page", lambda: d.js("return !window.__kpxBeforeReload && !!document.querySelector('.output.virtual')") and idle(), timeout=60)
    # The address still held the state before the change (it is written with the link, and a
    # reload goes to the address the page had when it was asked for): the tab remembered the newer
    # work as it left at that address, and opens it, with no notice.
    assert "port: 87}" in editor_text(d), (
        "the reload opened the address, not the change; "
        f"before: ...{before[-12:]}, reloaded: {d.js(RELOADED)}, as the page left: {d.js(LEFT)}")
    assert not d.js("return !!document.querySelector('#work-notice')"), d.text("#work-notice")
    # The address from before the change, opened again (not a reload): it is a link like any
    # other, and the change is kept aside.
    d.get("about:blank")
    d.get(before)
    d.wait_for("the address's own text", lambda: "svc7, namespace: bench}\nspec:\n  clusterIP: 10.96.0.9\n  ports:\n  - {name: http, port: 80}" in editor_text(d), timeout=60)
    d.wait_for("the notice", lambda: "Your own text from before is kept" in d.text("#work-notice"), timeout=30)


def test_leaving_while_the_link_is_made_keeps_the_change(d, site):
    """A large text's link is made in parts after each change (web/src/main.rs, `use_kept`):
    a reload while it is being made keeps the change anyway (`pagehide`): it is not lost."""
    # The page reloads as the changed text's link is first measured, with parts of it to come.
    reload_as_a_change_is_kept(d, site, "kpx:link")


def test_leaving_while_an_edit_is_analysed_keeps_it(d, site):
    """A large text's edit is analysed in steps (web/src/typing.rs, in_steps), and its state,
    and so its link, is set only once it is analysed: a reload meanwhile keeps the reader's
    text anyway (`pagehide`, `Edits::unanalysed`). It was lost."""
    # The page reloads as the edit's text is first read, its analysis still to come.
    reload_as_a_change_is_kept(d, site, "kpx:read")


def test_work_too_large_to_keep_is_said(d, site):
    """When local storage refuses the work (its quota), the page says that a reload would lose
    it, instead of failing silently."""
    open_article(d, site)
    assert not d.js("return document.querySelector('#not-kept')")
    d.js("Storage.prototype.setItem = function () { throw new DOMException('full', 'QuotaExceededError'); }")
    edit_article_port(d, 8087)
    d.wait_for("the warning", lambda: "a reload would lose it" in d.text("#not-kept"))


def test_opening_a_scenario_by_url(d, site):
    d.get(site + "?scenario=tour&view=list")
    d.wait_for("the tour in the list view",
               lambda: "Chain KUBE-SERVICES" in output(d) and "shop/web:http" in output(d))
    assert d.js("return document.querySelector('.tab[aria-selected=true]').dataset.view") == "list"
    d.get(site + "?preset=article-ipvs")
    d.wait_for("the IPVS article", lambda: "TCP  10.109.134.113:8080 rr" in output(d))


def test_every_scenario_loads_explains_itself_and_renders(d, site):
    open_article(d, site)
    ids = d.js("return [...document.querySelectorAll('#scenario option')].map(o => o.value).filter(v => v)")
    assert len(ids) >= 14, ids
    for sc in ids:
        choose(d, "#scenario", sc)
        d.wait_for(f"scenario {sc}", lambda: d.js("return document.querySelector('#about summary')?.innerText || ''")
                   and output(d).strip() and not d.text("#errors"))
        about = d.text("#about")
        assert len(about) > 80, (sc, about)
        # Its three modes all render.
        for mode in ["iptables", "ipvs", "nftables"]:
            choose(d, "#mode", mode)
            d.wait_for(f"{sc} in {mode}", lambda: output(d).strip() and not d.js("return !!document.querySelector('.problem')"))
        if sc in ("probabilities", "ping-clusterip", "external-traffic-policy"):
            d.screenshot(f"scenario-{sc}")


def test_loading_a_scenario_over_edits_asks_first(d, site):
    open_article(d, site)
    edit_article_port(d, 8082)
    d.js("window.confirm = () => false")
    choose(d, "#scenario", "tour")
    time.sleep(0.3)
    assert "port: 8082" in editor_text(d), "a refused confirm keeps the text"
    d.js("window.confirm = () => true")
    choose(d, "#scenario", "tour")
    d.wait_for("the tour", lambda: "KUBE-FW-OTVU7MV6PRR7MW2X" in output(d))
    # Reset returns to the scenario's text.
    set_text(d, editor_text(d) + "\n# a note\n")
    d.click("#reset")
    d.wait_for("the tour's own text", lambda: "# a note" not in editor_text(d))


def test_download_gives_the_text(d, site):
    open_article(d, site)
    set_text(d, editor_text(d) + "# mine\n")
    d.click("#download")
    path = os.path.join(d.downloads, "kpx-cluster.yaml")
    d.wait_for("the downloaded file", lambda: os.path.exists(path) and open(path).read() == editor_text(d))


def test_kubectl_views_and_namespaces(d, site):
    open_article(d, site)
    tab(d, "get-svc")
    d.wait_for("kubectl get svc", lambda: "nginx        ClusterIP   10.109.134.113" in output(d))
    assert "kube-dns" not in output(d), "plain kubectl get shows the default namespace"
    d.click("#all-namespaces")
    d.wait_for("kubectl get svc -A", lambda: "kube-system   kube-dns" in output(d))


def test_switching_nodes(d, site):
    d.get(site + "?scenario=tour")
    local_a = '-A KUBE-SVL-67NZLRHBNDSAWJRO -m comment --comment "shop/web:http -> 10.244.1.3:8080" -j KUBE-SEP-CACHYPJ5WX3OY2BV'
    d.wait_for("node-a's local endpoints", lambda: local_a in output(d))
    choose(d, "#node", "node-b")
    local_b = '-A KUBE-SVL-67NZLRHBNDSAWJRO -m comment --comment "shop/web:http -> 10.244.2.2:8080" -j KUBE-SEP-LYOGWTXD3FSSWSCA'
    d.wait_for("node-b's local endpoint", lambda: local_b in output(d))
    assert local_a not in output(d)


def test_a_long_view_is_virtualised(d, site):
    services = "".join(
        f"---\napiVersion: v1\nkind: Service\nmetadata: {{name: s{i}}}\nspec:\n  clusterIP: 10.96.{i // 250}.{i % 250 + 1}\n"
        f"  ports: [{{port: 80}}]\n" for i in range(1600))
    d.get(site)
    d.wait_for("the page", lambda: ARTICLE_LINE in output(d))
    set_text(d, editor_text(d) + services)
    d.wait_for("1,600 more Services", lambda: d.js("return document.querySelector('.output').classList.contains('virtual')"))
    drawn = d.js("return document.querySelectorAll('#output .vl').length")
    assert 0 < drawn < 400, drawn
    d.js("const o = document.querySelector('.output'); o.scrollTop = o.scrollHeight")
    d.wait_for("the end of the view", lambda: "COMMIT" in output(d).split("\n")[-1])


def test_typing_into_a_large_text_is_analysed_in_steps(d, site):
    """At 1,000 Services an edit takes 150 ms: keys typed in a burst are analysed in steps
    from the next task, each newer key dropping the older edit (web/src/typing.rs), and the
    result is the text as typed, with the edit's changes marked; an edit reads again only the
    section it changed."""
    import bench  # its generated cluster
    d.get(site)
    d.wait_for("the page", lambda: ARTICLE_LINE in output(d))
    # Every change of the page's word that it is busy, in order (typing.rs), each with the
    # edit's changes on screen when it was made.
    d.js("window.__busy = []; new MutationObserver(rs => rs.forEach(r => window.__busy.push("
         "[!(r.oldValue || '').split(' ').includes('waiting'), (document.querySelector('#changes') || {}).textContent || '']))"
         ").observe(document.querySelector('#busy'), {attributes: true, attributeFilter: ['class'], attributeOldValue: true})")
    said = lambda: [b for b, _ in d.js("return window.__busy")]
    # A text this large is edited in steps from its first edit: inside the paste's own event
    # nothing is analysed yet, and the page says it is busy.
    pasted = d.js("const e = document.querySelector('#editor'); const before = performance.getEntriesByName('kpx:analysed').length;"
                  "e.value = arguments[0]; e.dispatchEvent(new InputEvent('input', {bubbles: true}));"
                  "return [performance.getEntriesByName('kpx:analysed').length - before, getComputedStyle(document.querySelector('#busy')).visibility]",
                  bench.big_scenario(1000))
    assert pasted == [0, "visible"], pasted
    d.wait_for("1,000 Services", lambda: d.js("return document.querySelector('.output').classList.contains('virtual')"), timeout=60)
    d.wait_for("the word that the page is busy to go", lambda: said() == [True, False])
    # One more edit of the whole text (as a link or a script would make it).
    svc1 = "name: svc1, namespace: bench}\nspec:\n  clusterIP: 10.96.0.3\n  ports:\n  - {name: http, port: 8"
    assert svc1 in editor_text(d)
    set_text(d, editor_text(d).replace(svc1 + "0}", svc1 + "1}"))
    d.wait_for("port 81 in the rules", lambda: "--dport 81 " in output(d), timeout=30)
    at = "name: svc500, namespace: bench}\nspec:\n  clusterIP: 10.96.2.2\n  ports:\n  - {name: http, port: 8"
    caret_after(d, at, 1)
    d.js("window.__analyses = performance.getEntriesByName('kpx:analysed').length;"
         "window.__read = window.wasmBindings.kpxSectionsRead().split(' ').map(Number);")
    keys = [{"type": t, "value": k} for k in ["\ue003", "1", "2"] for t in ("keyDown", "keyUp")]
    d.s("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions": keys}]})
    assert "port: 812}" in editor_text(d)
    d.wait_for("port 812 in the rules", lambda: "--dport 812" in output(d), timeout=30)
    # Busy from the first key until the rules were drawn, and taken back only once the edit's
    # changes were on screen: said once for the burst, or once for each analysis of it when one
    # ends before the next key comes (a clean-clone CI run showed a key analysed between two
    # keys WebDriver sent together: busy said and taken back twice).
    def burst_said():
        burst = said()[4:]
        return said()[:4] == [True, False] * 2 and burst in ([True, False] * n for n in (1, 2, 3))
    try:
        d.wait_for("the word that the page is busy to go", burst_said)
    except AssertionError:
        print("  the page said it was busy (and the changes then on screen):",
              [(busy, changes[:60]) for busy, changes in d.js("return window.__busy")])
        raise
    assert "bench/svc500" in d.js("return window.__busy")[-1][1]
    analyses = d.js("return performance.getEntriesByName('kpx:analysed').length - window.__analyses")
    assert 1 <= analyses <= 3, f"{analyses} analyses for three keys"
    # The keys' readings read one section of the text's 2,001 each (a reading of the same text
    # again, when the state moved on, reads none).
    readings, sections = d.js("const [r, s] = window.wasmBindings.kpxSectionsRead().split(' ').map(Number); return [r - window.__read[0], s - window.__read[1]]")
    assert 1 <= readings <= 4 and 1 <= sections <= readings, f"{sections} sections read in {readings} readings"
    # The edit ran in steps (analysis, views, changes, drawing): the changes are marked too,
    # against the rules before the burst of keys.
    changes = d.text("#changes")
    assert "2 added, 2 removed" in changes and "bench/svc500" in changes, changes


def test_a_large_texts_link_waits_for_a_pause_in_the_typing(d, site):
    """A large text's link (DEFLATE, local storage, the address: 23 ms of a key's 50 at 1,000
    Services) is made once the reader pauses, not after every key (web/src/main.rs,
    `use_kept`, LINK_AFTER_PAUSE_MS): none of it runs between the keys of a burst, and once
    the typing stops the address and the saved work hold the last key."""
    open_1000_services(d, site)
    idle = lambda: page_idle(d)
    saved = lambda: d.js("return JSON.parse(localStorage.getItem('kpx.state') || '\"\"')")
    d.wait_for("the work kept", lambda: len(saved()) > 10_000 and d.js("return location.hash") == "#" + saved())
    before = saved()
    at = "name: svc500, namespace: bench}\nspec:\n  clusterIP: 10.96.2.2\n  ports:\n  - {name: http, port: 8"
    caret_after(d, at, 1)
    d.js("performance.clearMeasures('kpx:link'); window.__keys = [];"
         "document.querySelector('#editor').addEventListener('keydown', e => window.__keys.push(e.timeStamp))")
    # 80 -> 8 -> 81 -> 8 -> 82 -> 8 -> 83, a key every 80 ms.
    keys = []
    for k in ["\ue003", "1", "\ue003", "2", "\ue003", "3"]:
        keys += [{"type": "keyDown", "value": k}, {"type": "keyUp", "value": k}, {"type": "pause", "duration": 80}]
    d.s("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions": keys}]})
    d.wait_for("port 83 in the rules", lambda: "--dport 83 " in output(d) and idle(), timeout=30)
    d.wait_for("the work kept again", lambda: saved() != before and d.js("return location.hash") == "#" + saved(), timeout=30)
    typed = d.js("return window.__keys")
    assert len(typed) == 6, typed
    started = d.js("return performance.getEntriesByName('kpx:link').map(m => m.startTime)")
    assert started, "no link was made"
    early = [round(t - typed[-1]) for t in started if t < typed[-1] + 400]
    assert not early, f"link work {early} ms after the last key, before the typing paused"
    # What was kept is the text as typed: a reload opens it.
    d.js("location.reload()")
    d.wait_for("the text after reload", lambda: d.js("return !!document.querySelector('.output.virtual')") and idle(), timeout=60)
    assert at + "3}" in editor_text(d)


def when_first_measured(d, name, first, later=""):
    """Has the page run the script `first` when it first records the User Timing measure
    `name` (between two steps of an edit in steps, web/src/typing.rs), and `later` at every
    measure after that (with the measure's `name`)."""
    d.js(f"""const measure = performance.measure.bind(performance); let seen = false;
            performance.measure = function (name, ...rest) {{
              const m = measure(name, ...rest);
              if (seen) {{ {later} }}
              if (name === {json.dumps(name)} && !seen) {{ seen = true; {first} }}
              return m;
            }};""")


# Types a key into svc7's port (80 -> 87) of bench.big_scenario's text, as the editor's input.
TYPE_PORT_87 = r"""const e = document.querySelector('#editor');
e.value = e.value.replace('name: svc7, namespace: bench}\nspec:\n  clusterIP: 10.96.0.9\n  ports:\n  - {name: http, port: 80}',
                          'name: svc7, namespace: bench}\nspec:\n  clusterIP: 10.96.0.9\n  ports:\n  - {name: http, port: 87}');
e.dispatchEvent(new InputEvent('input', {bubbles: true}));"""


def test_keys_typed_while_a_large_edit_runs_are_kept(d, site):
    """A large text's edit runs in steps (web/src/typing.rs, in_steps); a key typed between
    them owns the outcome. The older edit must not write its text over the newer key, and the
    newer text is the one analysed."""
    open_1000_services(d, site)
    # When the next edit's changes (its third step) are measured, a key is typed: in a
    # microtask, so before the edit's last step sets the state. From then on, every drawing
    # of the page must keep the key in the editor.
    d.js("window.__kept = []")
    when_first_measured(d, "kpx:diff", "queueMicrotask(() => {" + TYPE_PORT_87 + "})",
                        later="if (name === 'kpx:draw') window.__kept.push(document.querySelector('#editor').value.includes('port: 87}'));")
    svc3 = "name: svc3, namespace: bench}\nspec:\n  clusterIP: 10.96.0.5\n  ports:\n  - {name: http, port: 80}"
    assert svc3 in editor_text(d)
    set_text(d, editor_text(d).replace(svc3, svc3.replace("port: 80}", "port: 83}")))
    d.wait_for("both edits in the rules", lambda: "--dport 83 " in output(d) and "--dport 87 " in output(d), timeout=30)
    d.wait_for("the page to be idle", lambda: page_idle(d))
    kept = d.js("return window.__kept")
    assert kept and all(kept), f"the key typed during the edit was written over in drawings: {kept}"
    text = editor_text(d)
    assert "port: 83}" in text and "port: 87}" in text, "a key typed during the edit was overwritten"


def test_a_large_text_is_read_in_parts_and_a_key_typed_meanwhile_wins(d, site):
    """A large text is read a part at a time (web/src/typing.rs, read_in_parts), the page
    saying how far it is; a key typed between two parts stops that reading, and the text with
    the key is the one analysed."""
    import bench
    d.get(site)
    d.wait_for("the page", lambda: ARTICLE_LINE in output(d))
    d.js("window.__read = []; new MutationObserver(rs => rs.forEach(r => window.__read.push(r.target.getAttribute('data-read'))))"
         ".observe(document.querySelector('#read'), {attributes: true, attributeFilter: ['data-read']})")
    before = d.js("return [performance.getEntriesByName('kpx:read').length, performance.getEntriesByName('kpx:analysed').length]")
    set_text(d, bench.big_scenario(2000))
    d.wait_for("2,000 Services", lambda: page_idle(d), timeout=60)
    assert d.js("return document.querySelector('.output').classList.contains('virtual')")
    after = d.js("return [performance.getEntriesByName('kpx:read').length, performance.getEntriesByName('kpx:analysed').length]")
    parts, analyses = after[0] - before[0], after[1] - before[1]
    assert parts >= 2 and analyses == 1, f"2,000 Services read in {parts} parts, {analyses} analyses"
    said = d.js("return window.__read")
    shown = [int(p) for p in said if p is not None]
    assert said[-1] is None and shown and shown == sorted(shown) and all(0 < p < 100 for p in shown), said
    # The gutter numbers the lines in sight (editor.rs, GUTTER_WINDOW), each beside its line.
    numbers = lambda: d.js("return [...document.querySelectorAll('.gutter .gl')].map(e => +e.textContent)")
    shown = numbers()
    assert shown[0] == 1 and len(shown) <= 400 and shown == list(range(1, len(shown) + 1)), shown[:3]
    d.js("document.querySelector('#text').scrollTop = 20000 * 19")
    d.wait_for("line 20,001 numbered", lambda: 20001 in numbers())
    offset = d.js("const t = document.querySelector('#text'); const g = [...document.querySelectorAll('.gutter .gl')].find(e => e.textContent === '20001');"
                  "return [g.getBoundingClientRect().top - t.getBoundingClientRect().top, t.scrollTop]")
    assert offset[1] == 20000 * 19 and abs(offset[0] - 8) < 1.5, f"line 20,001's number is {offset[0]} px below the text's top, not 8 (its padding)"
    assert len(numbers()) <= 400
    # A key typed once the next edit's first part is read: that reading stops (the older text
    # is never analysed), and the newer text's is the outcome.
    when_first_measured(d, "kpx:read", "window.__analysesAtKey = performance.getEntriesByName('kpx:analysed').length;"
                        "window.__readsAtKey = performance.getEntriesByName('kpx:read').length;"
                        "queueMicrotask(() => {" + TYPE_PORT_87 + "});")
    # (A comment ends every document but the last: an edit of one Service alone would read only
    # its section, in one part.)
    svc3 = "name: svc3, namespace: bench}\nspec:\n  clusterIP: 10.96.0.5\n  ports:\n  - {name: http, port: 80}"
    moved = editor_text(d).replace("\n---\n", "\n# moved\n---\n")
    set_text(d, moved.replace(svc3, svc3.replace("port: 80}", "port: 83}")))
    d.wait_for("both edits in the rules", lambda: "--dport 83 " in output(d) and "--dport 87 " in output(d), timeout=60)
    d.wait_for("the page to be idle", lambda: page_idle(d))
    analysed = d.js("return performance.getEntriesByName('kpx:analysed').length - window.__analysesAtKey")
    assert analysed == 1, f"{analysed} analyses after the key"
    # The newer text is read in about as many parts as the first; had the older reading gone
    # on, its parts would come on top.
    reads = d.js("return performance.getEntriesByName('kpx:read').length - window.__readsAtKey")
    assert reads <= parts + 1, f"{reads} parts read after the key, {parts} for the whole text: the older reading went on"
    assert d.js("return document.querySelector('#read').getAttribute('data-read')") is None
    assert d.js("return document.querySelector('#read').getAttribute('aria-hidden')") == "true", "the percentage would be announced every 40 ms"
    # An error in a long text is marked in its gutter too (editor.rs, Numbers).
    d.js("document.querySelector('#text').scrollTop = 0")
    set_text(d, editor_text(d).replace("kind: KubeProxyConfiguration", "kind: [", 1))
    marked = lambda: d.js("return [[...document.querySelectorAll('.gutter .gl.err')].map(e => e.textContent), document.querySelector('#errors').innerText]")
    d.wait_for("the error", lambda: marked()[1], timeout=60)
    numbers, errors = marked()
    assert errors.startswith("line 3, col 1:") and numbers == ["3"], (numbers, errors)


PASTE_EVENT = """const [css, text] = arguments; const t = document.querySelector(css); t.focus();
if (t.select) t.select();
const data = new DataTransfer(); data.setData('text/plain', text);
const e = new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true});
t.dispatchEvent(e); return e.defaultPrevented;"""


def test_a_long_text_is_edited_through_a_window_of_lines(d, site):
    """A long text's text box holds only the lines around those in sight (web/src/windowed.rs):
    Chromium's own work for a key typed into 27,000 lines was 60-110 ms. Scrolling moves the
    window, keys edit the whole text in the right place, the caret survives the window moving
    (and a caret scrolled away is brought back by the next key), an error's button finds its
    line, select all and a key replace the whole text, an input method's composition keeps the
    window where it is until it ends, and a text that grows long as it is typed keeps its caret
    and focus."""
    import bench
    d.get(site)
    d.wait_for("the page", lambda: ARTICLE_LINE in output(d))
    text = bench.big_scenario(1000)
    set_text(d, text)
    d.wait_for("the windowed text box", lambda: d.js("return !!document.querySelector('#editor.windowed')"), timeout=60)
    d.wait_for("the page to be idle", lambda: page_idle(d), timeout=60)
    box = lambda: d.js("const e = document.querySelector('#editor'); return [e.value, e.selectionStart, e.selectionEnd, document.activeElement === e]")
    value = box()[0]
    assert editor_text(d) == text and value == "\n".join(text.split("\n")[:400]), "the window is the text's first 400 lines"
    # Scrolled to line 14,001: the window holds it, beside its number in the gutter.
    d.js("document.querySelector('#text').scrollTop = 14000 * 19")
    d.wait_for("the window at line 14,001", lambda: box()[0].startswith(text.split("\n")[13900] + "\n"))
    top = d.js("const e = document.querySelector('#editor'); const g = [...document.querySelectorAll('.gutter .gl')].find(g => g.textContent === '13901');"
               "return [g.getBoundingClientRect().top, e.getBoundingClientRect().top]")
    assert abs(top[0] - top[1]) < 1.5, f"the window's first line is at {top[1]}, its number at {top[0]}"
    # An input method composing (Chinese, Japanese): the window stays while the text scrolls
    # (setting the text box's text would end the composition), and follows when it ends.
    compose = lambda kind: d.js("document.querySelector('#editor').dispatchEvent(new CompositionEvent(arguments[0], {bubbles: true}))", kind)
    compose("compositionstart")
    d.js("document.querySelector('#text').scrollTop = 20000 * 19")
    time.sleep(0.5)
    assert box()[0].startswith(text.split("\n")[13900] + "\n"), "the window moved while composing"
    compose("compositionend")
    d.wait_for("the window at line 20,001", lambda: box()[0].startswith(text.split("\n")[19900] + "\n"))
    d.js("document.querySelector('#text').scrollTop = 14000 * 19")
    d.wait_for("the window back at line 14,001", lambda: box()[0].startswith(text.split("\n")[13900] + "\n"))
    # Keys typed at svc500's port edit the whole text there, and nowhere else.
    at = "name: svc500, namespace: bench}\nspec:\n  clusterIP: 10.96.2.2\n  ports:\n  - {name: http, port: 8"
    caret_after(d, at, 1)
    keys = lambda *ks: d.s("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions": [
        {"type": t, "value": k} for k in ks for t in ("keyDown", "keyUp")]}]})
    keys("\ue003", "1", "2")
    want = text.replace(at + "0}", at + "12}")
    assert editor_text(d) == want, "the keys' text"
    d.wait_for("port 812 in the rules", lambda: "--dport 812" in output(d), timeout=30)
    # The window moves on (it starts 100 lines above the top line in sight); the caret, still
    # in it, stays where it was in the text.
    line = want.count("\n", 0, want.index(at))
    d.js("document.querySelector('#text').scrollTop = arguments[0] * 19", line // 100 * 100 + 100)
    d.wait_for("the window moved", lambda: not box()[0].startswith(text.split("\n")[13900] + "\n"))
    v, start, end, focused = box()
    assert focused and start == end and v[:start].endswith(at + "12"), "the caret moved with the window"
    # Scrolled far away, the caret is out of the window: the next key brings it back, in sight.
    d.js("document.querySelector('#text').scrollTop = 0")
    d.wait_for("the window at the top", lambda: box()[0].startswith("apiVersion: kubeproxy"))
    keys("3")
    want = want.replace(at + "12}", at + "123}")
    assert editor_text(d) == want, "the key after scrolling away went elsewhere"
    scrolled = d.js("return document.querySelector('#text').scrollTop / 19")
    caret_line = want.count("\n", 0, want.index(at) + len(at))
    assert caret_line - 10 <= scrolled <= caret_line, f"scrolled to line {scrolled}, the caret is on {caret_line}"
    # An error deep in the text: its button moves the window there and puts the caret on it.
    bad = want.replace("name: svc900, namespace: bench}", "name: [svc900, namespace: bench}")
    set_text(d, bad)
    err = d.wait_for("the error", lambda: d.text("#errors"), timeout=60)
    err_line = int(err.split("line ")[1].split(",")[0])
    broken = bad.count("\n", 0, bad.index("name: [svc900")) + 1
    assert broken <= err_line <= broken + 3, err
    d.click("#errors .goto")
    v, start, _, focused = box()
    first = d.js("return Math.round(parseFloat(document.querySelector('#editor').style.top) / 19)")
    assert focused and first + v[:start].count("\n") + 1 == err_line, (first, err_line)
    ctrl = lambda k: d.s("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions": [
        {"type": "keyDown", "value": "\ue009"}, {"type": "keyDown", "value": k}, {"type": "keyUp", "value": k},
        {"type": "keyUp", "value": "\ue009"}]}]})
    # Ctrl+End, then a key: at the text's end. Scrolled away from there, Ctrl+Home and a key:
    # at its start (not where the caret was).
    ctrl("\ue010")
    keys("#")
    assert editor_text(d) == bad + "#"
    d.js("document.querySelector('#text').scrollTop = 9000 * 19")
    d.wait_for("the window in the middle", lambda: text.split("\n")[8900] + "\n" in box()[0])
    ctrl("\ue011")
    keys("%")
    assert editor_text(d) == "%" + bad + "#"
    # Select all, then undo: the undo acts on the text box's text (the "%"), not the whole.
    ctrl("a")
    ctrl("z")
    assert editor_text(d) == bad + "#", "select all and undo"
    # Select all, the text scrolled (the window moves), and a key: the whole text is replaced
    # (the text box held 400 lines of it).
    ctrl("a")
    d.js("document.querySelector('#text').scrollTop = 5000 * 19")
    d.wait_for("the window moved", lambda: text.split("\n")[4900] + "\n" in box()[0])
    keys("x")
    assert editor_text(d) == "x"
    d.wait_for("one text box again", lambda: d.js("const e = document.querySelector('#editor'); return e && !e.classList.contains('windowed') && e.value === 'x'"), timeout=30)
    # A text that grows long as it is typed: the window takes over where the caret was, and
    # keeps the focus.
    short = bench.big_scenario(142)
    assert short.count("\n") < 4000 < short.count("\n") + 30
    set_text(d, short)
    d.wait_for("the short text", lambda: d.js("return document.querySelector('#editor').value") == short, timeout=30)
    caret_after(d, "name: svc70, namespace: bench}")
    keys(*["\ue007"] * 30, "#")
    d.wait_for("the windowed text box", lambda: d.js("return !!document.querySelector('#editor.windowed')"), timeout=30)
    want = short.replace("name: svc70, namespace: bench}", "name: svc70, namespace: bench}" + "\n" * 30 + "#")
    d.wait_for("the typed text", lambda: editor_text(d) == want, timeout=10)
    v, start, _, focused = box()
    assert focused and v[:start].endswith("bench}" + "\n" * 30 + "#"), "the caret after the switch"


def test_a_huge_paste_is_shown_read_only_past_the_text_box(d, site):
    """A paste that would make the text huge (editor.rs, HUGE_TEXT) never reaches the text box,
    which would take seconds to lay it out: the text is shown read-only, the lines in sight
    beside their numbers, and analysed; a paste into it replaces it."""
    import bench
    d.get(site)
    d.wait_for("the page", lambda: ARTICLE_LINE in output(d))
    article = editor_text(d)
    huge = bench.big_scenario(3500)
    assert len(huge) > 2 << 20
    assert d.js(PASTE_EVENT, "#editor", huge) is True, "the text box took the paste"
    d.wait_for("the text shown read-only", lambda: d.js("return !!document.querySelector('#viewer') && !document.querySelector('#editor')"))
    assert "2.3 MB" in d.text("#huge")
    assert d.js("return document.activeElement.id") == "viewer", "the focus was lost with the text box"
    d.wait_for("3,500 Services analysed", lambda: d.js("return document.querySelector('.output').classList.contains('virtual')"), timeout=60)
    d.wait_for("the page to be idle", lambda: page_idle(d))
    lines = huge.split("\n")
    shown = lambda: d.js("return [...document.querySelectorAll('#viewer .cl')].map(e => e.textContent.replace('\u200b', ''))")
    first = shown()
    assert first == lines[:len(first)] and len(first) <= 400, first[:3]
    d.js("document.querySelector('#viewer').scrollTop = 50000 * 19")
    d.wait_for("line 50,001 shown", lambda: lines[50000] in shown() and 50001 in d.js("return [...document.querySelectorAll('.gutter .gl')].map(e => +e.textContent)"))
    tops = d.js("const v = [...document.querySelectorAll('#viewer .cl')]; const g = [...document.querySelectorAll('.gutter .gl')];"
                "const line = v[50000 - +g[0].textContent + 1]; const n = g.find(e => e.textContent === '50001');"
                "return [line.textContent.replace('\u200b', ''), line.getBoundingClientRect().top, n.getBoundingClientRect().top]")
    assert tops[0] == lines[50000] and abs(tops[1] - tops[2]) < 1, tops
    # A paste into the shown text replaces it: the article is back in the text box.
    assert d.js(PASTE_EVENT, "#viewer", article) is True
    d.wait_for("the article", lambda: ARTICLE_LINE in output(d), timeout=30)
    d.wait_for("the text box", lambda: d.js("return !!document.querySelector('#editor') && !document.querySelector('#huge')"))
    assert editor_text(d) == article
    assert d.js("return document.activeElement.id") == "editor", "the focus was lost with the viewer"


def test_a_scenario_loaded_while_a_large_edit_runs_stands(d, site):
    """A scenario chosen between a large edit's steps (web/src/typing.rs, `Meanwhile::Replaced`)
    replaces the text: the older edit must not come back over it, and the page stops saying
    it is busy."""
    open_1000_services(d, site)
    # When the next edit's changes (its third step) are measured, the article is chosen (and
    # the reader agrees to replace their text).
    d.js("window.confirm = () => true")
    when_first_measured(d, "kpx:diff", "queueMicrotask(() => { const s = document.querySelector('#scenario'); s.value = 'article';"
                                       "s.dispatchEvent(new Event('change', {bubbles: true})); });")
    # (A comment ends every document but the last: an edit of one Service alone would read only
    # its section, in one part.)
    svc3 = "name: svc3, namespace: bench}\nspec:\n  clusterIP: 10.96.0.5\n  ports:\n  - {name: http, port: 80}"
    moved = editor_text(d).replace("\n---\n", "\n# moved\n---\n")
    set_text(d, moved.replace(svc3, svc3.replace("port: 80}", "port: 83}")))
    d.wait_for("the article", lambda: ARTICLE_LINE in output(d), timeout=30)
    d.wait_for("the page to be idle", lambda: page_idle(d))
    time.sleep(1)  # long enough for the older edit to have come back, had it been kept
    assert "svc3" not in editor_text(d) and ARTICLE_LINE in output(d), "the older edit came back over the scenario"


def test_a_large_texts_views_are_made_in_steps_and_keep_the_text(d, site):
    """A view, a mode or the namespaces chosen over a large text (web/src/typing.rs,
    `choose_in_steps`) are made in steps, as an edit's views are, not whole in the click's
    task (seconds at 44,125 Services); the page says it is making the view; the latest choice
    wins; and a text with errors, shown over the last good analysis, stays the reader's."""
    import bench
    d.get(site)
    d.wait_for("the page", lambda: ARTICLE_LINE in output(d))
    nodes = "".join(f"---\napiVersion: v1\nkind: Node\nmetadata: {{name: node-{n}}}\n" for n in "ab")
    set_text(d, bench.big_scenario(1000) + nodes)
    idle = lambda: page_idle(d)
    d.wait_for("1,000 Services", lambda: d.js("return document.querySelector('.output').classList.contains('virtual')"), timeout=60)
    d.wait_for("the page to be idle", idle)
    # What the busy status said, and each task's view steps measured, from here on.
    d.js("window.__said = []; new MutationObserver(() => window.__said.push(document.querySelector('#busy').className))"
         ".observe(document.querySelector('#busy'), {attributes: true});"
         "performance.clearMeasures('kpx:views');")
    selected = lambda: d.js("return document.querySelector('#output').closest('.pane').querySelector('.tab[aria-selected=true]').dataset.view")
    # (`iptables -L`: its 33,000 lines take the wasm more than one task's slice; a restore view's
    # now fit in one.)
    tab(d, "list")
    d.wait_for("the list view", lambda: "Chain PREROUTING (policy ACCEPT" in output(d) and selected() == "list", timeout=60)
    d.wait_for("the page to be idle", idle)
    tasks = d.js("return performance.getEntriesByName('kpx:views').map(m => m.duration)")
    assert len(tasks) >= 2, f"the list view was made in {len(tasks)} tasks"
    assert max(tasks) < 90, f"a task made the view's lines for {max(tasks):.0f} ms"
    assert "waiting view" in d.js("return window.__said"), d.js("return window.__said")
    assert d.text("#busy") == "", "the status is hidden once the view is drawn"
    # Two choices in one go: the later one stands.
    d.js("const tabs = document.querySelector('#output').closest('.pane');"
         "tabs.querySelector(\".tab[data-view='restore']\").click(); tabs.querySelector(\".tab[data-view='save']\").click();")
    d.wait_for("the save view", lambda: ":INPUT ACCEPT [0:0]" in output(d) and selected() == "save", timeout=60)
    d.wait_for("the page to be idle", idle)
    time.sleep(0.5)
    assert selected() == "save" and ":INPUT ACCEPT [0:0]" in output(d), "an older choice came back"
    # Another node: the text is analysed again in steps too (a task's steps are one measure: the
    # page saying it is busy tells the steps from an analysis in the choice's own task).
    performance_analyses = "return performance.getEntriesByName('kpx:analyze').length"
    before, said = d.js(performance_analyses), d.js("return window.__said.length")
    choose(d, "#node", "node-b")
    d.wait_for("node-b's analysis", lambda: d.js(performance_analyses) > before, timeout=60)
    d.wait_for("the page to be idle", idle)
    assert any("waiting" in c for c in d.js("return window.__said")[said:]), d.js("return window.__said")
    assert d.js("return document.querySelector('#node').value") == "node-b"
    # A text with errors keeps the last good analysis's views; a view chosen then is made from
    # that analysis, and the reader's broken text stays in the editor.
    broken = editor_text(d) + "\n---\nkind: Service\nmetadata: {name: [\n"
    set_text(d, broken)
    d.wait_for("the error", lambda: "line " in d.text("#errors"), timeout=60)
    d.wait_for("the page to be idle", idle)
    choose(d, "#mode", "ipvs")
    d.wait_for("the IPVS view", lambda: "TCP  10.96.0.2:80 rr" in output(d), timeout=60)
    d.wait_for("the page to be idle", idle)
    assert editor_text(d) == broken, "choosing a view replaced the reader's text"


NGINX_PODS = {"172.17.0.3:80", "172.17.0.4:80", "172.17.0.5:80"}


def card(d, i=0):
    return d.js(f"const c = document.querySelector('#card-{i}'); return c ? {{anchor: c.dataset.anchor || null, chain: c.dataset.chain, packet: +c.dataset.packet, text: c.innerText}} : null")


def position(d):
    return d.text("#walk-position")


def open_walk(d, site, mode):
    open_article(d, site + "?scenario=article")
    if mode != "iptables":
        choose(d, "#mode", mode)
    d.click("#stage-packet")
    d.wait_for("the walk", lambda: card(d) is not None)
    assert "nginx" in d.js("const s = document.querySelector('#walk-to'); return s.options[s.selectedIndex].text")
    assert d.js("return document.querySelector('#walk-from').value").startswith("kube-system/coredns")


def step_through(d, check=None):
    """Steps to the end; returns the cards seen (check(card) at each step)."""
    seen = []
    while True:
        c = card(d)
        seen.append(c)
        if check:
            check(c)
        if d.js("return document.querySelector('#walk-forward').disabled"):
            return seen
        before = position(d)
        d.click("#walk-forward")
        d.wait_for("the next step", lambda: position(d) != before)


def lit(d, pane="#output"):
    return d.js(f"const l = document.querySelector('{pane} .vl.current'); return l ? {{anchor: l.dataset.anchor, text: l.innerText}} : null")


def check_lit(d, view_has):
    def check(c):
        if c["anchor"] and view_has(c["anchor"]):
            line = d.wait_for(f"the rule of {c['anchor']} lit", lambda: (lit(d) or {}).get("anchor") == c["anchor"] and lit(d))
            assert line["anchor"] == c["anchor"], (line, c)
    return check


def delivered_to(d, i=0):
    h = d.text(f"#walk-{i} h3")
    return h.split("delivered to ")[1].split(" ")[0] if "delivered to " in h else h


def test_a_packet_walks_through_iptables(d, site):
    open_walk(d, site, "iptables")
    cards = step_through(d, check_lit(d, lambda a: a.startswith("iptables ")))
    chains = [c["chain"] for c in cards]
    for want in ["PREROUTING", "KUBE-SERVICES", "KUBE-SVC-2CMXP7HKUVJN7L6M", "KUBE-POSTROUTING"]:
        assert want in chains, (want, chains)
    assert any(c.startswith("KUBE-SEP-") for c in chains), chains
    assert any("DNAT to 172.17.0." in c["text"] for c in cards)
    assert any("random 0." in c["text"] for c in cards), "the statistic rules show their draw"
    reached = delivered_to(d)
    assert reached in NGINX_PODS, reached
    assert d.js("return document.querySelector('.topology .pod.reached').dataset.endpoint") == reached
    assert "conntrack -L" in d.text("#card-0") or d.js("return !!document.querySelector('#conntrack-0')")
    # Back: the previous step, and its rule lit.
    end = position(d)
    d.click("#walk-back")
    d.wait_for("a step back", lambda: position(d) != end)
    c = card(d)
    if c["anchor"]:
        d.wait_for("the previous rule lit", lambda: (lit(d) or {}).get("anchor") == c["anchor"])
    # The same seed reaches the same pod again.
    d.click("#walk-reset")
    d.wait_for("the first step", lambda: position(d).startswith("step 1 "))
    step_through(d)
    assert delivered_to(d) == reached


def test_a_packet_walks_through_ipvs(d, site):
    open_walk(d, site, "ipvs")
    cards = step_through(d, check_lit(d, lambda a: a.startswith("ipvs ")))
    ipvs = [c for c in cards if c["chain"] == "IPVS"]
    assert ipvs and "virtual server TCP 10.109.134.113:8080 -> real server 172.17.0." in ipvs[0]["text"], ipvs
    assert delivered_to(d) in NGINX_PODS


def test_a_packet_walks_through_nftables(d, site):
    open_walk(d, site, "nftables")
    cards = step_through(d, check_lit(d, lambda a: a.startswith("nft ")))
    chains = [c["chain"] for c in cards]
    assert "services" in chains and any(c.startswith("service-") for c in chains) and any(c.startswith("endpoint-") for c in chains), chains
    assert any("numgen drew" in c["text"] for c in cards), "numgen shows its draw"
    assert any("vmap" in c["text"] and c["chain"] == "services" for c in cards)
    assert delivered_to(d) in NGINX_PODS


def test_the_second_packet_of_a_connection_skips_the_nat_rules(d, site):
    open_walk(d, site, "iptables")
    d.click("#walk-same")
    c = d.wait_for("packet 2", lambda: card(d)["packet"] == 2 and card(d))
    assert "established connection" in c["text"] and "without walking the nat rules" in c["text"], c
    assert lit(d) is None, "no rule is evaluated"
    step_through(d)
    later = [card(d)]
    assert all(x["packet"] == 2 for x in later)
    steps = d.js("return [...document.querySelectorAll('#steps-0 li[data-frame]')].map(l => l.innerText)")
    second = steps[[i for i, s in enumerate(steps) if s.startswith("conntrack")][0]:]
    assert not any("KUBE-SERVICES" in s for s in second), second


def test_mid_flight_screenshots_and_compare(d, site):
    for mode in ["iptables", "ipvs", "nftables"]:
        open_walk(d, site, mode)
        for _ in range({"iptables": 9, "ipvs": 6, "nftables": 5}[mode]):
            before = position(d)
            d.click("#walk-forward")
            d.wait_for("a step", lambda: position(d) != before)
        d.screenshot(f"walk-{mode}-mid-flight")
    # The same packet, two modes.
    choose(d, "#mode", "iptables")
    choose(d, "#compare", "nftables")
    d.wait_for("two walks", lambda: d.js("return !!document.querySelector('#walk-1')"))
    d.js("document.querySelector('#walk-play').click()")
    d.wait_for("both panes lit", lambda: lit(d) and lit(d, "#output-2"), timeout=60)
    d.screenshot("walk-compare-playing")
    d.wait_for("the end", lambda: d.js("return document.querySelector('#walk-forward').disabled"), timeout=90)
    assert delivered_to(d, 0) in NGINX_PODS and delivered_to(d, 1) in NGINX_PODS


def bars_match_counts(d, run):
    """The bars' heights are proportional to the counts in the chart's table."""
    counts = d.js("return [...arguments[0].querySelectorAll('.counts td.count')].map(t => +t.innerText)", run)
    heights = d.js("return [...arguments[0].querySelectorAll('svg rect')].filter(r => (r.getAttribute('fill') || '').toUpperCase() == '#24608A').map(r => +r.getAttribute('height'))", run)
    nonzero = [c for c in counts if c]
    assert len(heights) == len(counts) or len(heights) == len(nonzero), (heights, counts)
    bars = [h for h in heights if h > 0]
    if bars:
        k = max(bars) / max(counts)
        for h, c in zip(sorted(bars), sorted(nonzero)):
            assert abs(h - c * k) <= 1.5, (heights, counts)
    return counts


def test_send_1000_connections_draws_the_chart(d, site):
    open_article(d, site)
    choose(d, "#compare", "ipvs")
    d.click("#stage-charts")
    d.click("#send-1000")
    d.wait_for("two charts", lambda: d.js("return document.querySelectorAll('.run').length") == 2)
    for run in d.js("return [...document.querySelectorAll('.run')]"):
        counts = bars_match_counts(d, run)
        assert sum(counts) == 1000 and len(counts) == 3, counts
        assert all(250 < c < 420 for c in counts), counts
    assert "even share: 333" in d.js("return document.querySelector('.run svg').textContent")
    shares = d.text(".run[data-mode=iptables] .shares")
    assert "0.3333" in shares and "0.5000" in shares, shares
    ipvsadm = d.text(".run[data-mode=ipvs] .ipvsadm")
    assert "TCP  10.109.134.113:8080 rr" in ipvsadm and "334" in ipvsadm and "333" in ipvsadm, ipvsadm
    d.screenshot("charts-1000-connections")
    d.click("#keep-alive")
    d.wait_for("keep-alive charts", lambda: "kept-alive" in d.js("return document.querySelector('.run svg').textContent"))
    counts = bars_match_counts(d, d.js("return document.querySelector('.run')"))
    assert sorted(counts) == [0, 0, 1000], counts
    scaling = d.js("return document.querySelector('.scaling svg').textContent")
    assert "article: 2,000 NodePort Services" in scaling and "its estimate: 20,000" in scaling
    d.screenshot("charts-keep-alive-and-scaling")


ROOT_SRC = os.path.join(ROOT, "web", "src")
AXE = os.path.join(ROOT, "tools", "node_modules", "axe-core", "axe.min.js")


def test_every_ui_string_is_translated(d, site):
    """Every English string the page passes through t / tf / en has its Chinese (i18n.rs)."""
    import re
    sources = {f: open(os.path.join(ROOT_SRC, f)).read() for f in os.listdir(ROOT_SRC) if f.endswith(".rs")}
    table = sources["i18n.rs"].split("const ZH")[1]
    translated = set(re.findall(r'^\s*\("((?:[^"\\]|\\.)*)",\s*"', table, re.M))
    used = set()
    for name, text in sources.items():
        if name == "i18n.rs":
            continue
        used |= set(re.findall(r'\b(?:t|tf)\(\s*\*?(?:l|lang)\s*,\s*"((?:[^"\\]|\\.)*)"', text))
        used |= set(re.findall(r'\bi18n::en\(\s*"((?:[^"\\]|\\.)*)"\s*\)', text))
    assert len(used) > 100, len(used)
    missing = sorted(used - translated)
    assert not missing, f"no Chinese for: {missing}"


def axe(d, name):
    """Runs axe-core on the page; fails on serious or critical violations."""
    d.js(open(AXE).read())
    result = d.js_async("const done = arguments[arguments.length - 1];"
                        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')), help: v.help}))), e => done([{id: 'error', impact: 'critical', help: String(e)}]))")
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: {json.dumps(bad, indent=1)}"
    return result


def test_accessibility_of_the_main_states(d, site):
    open_article(d, site + "?scenario=article")
    axe(d, "article, save view")
    d.hover(d.js("return document.querySelector('#output .vl.why')"))
    axe(d, "a line explained")
    d.click("#stage-packet")
    d.wait_for("the walk", lambda: card(d) is not None)
    d.click("#walk-forward")
    axe(d, "packet walk")
    d.click("#stage-charts")
    d.click("#send-1000")
    d.wait_for("a chart", lambda: d.js("return document.querySelectorAll('.run').length") == 1)
    axe(d, "charts")
    choose(d, "#mode", "ipvs")
    choose(d, "#compare", "nftables")
    d.wait_for("ipvsadm", lambda: "TCP  10.109.134.113:8080 rr" in output(d))
    axe(d, "compare")
    choose(d, "#theme", "dark")
    axe(d, "dark theme")
    d.click("#presenter")
    axe(d, "presenter mode")
    d.click("#presenter")
    choose(d, "#lang", "zh-CN")
    d.wait_for("Chinese", lambda: d.text("#copy-link") == "复制链接")
    axe(d, "Chinese")
    d.key("?")
    d.wait_for("the help", lambda: d.js("return !!document.querySelector('#help')"))
    axe(d, "shortcuts help")


def test_keyboard_presenter_mode_and_live_region(d, site):
    open_article(d, site + "?scenario=article")
    d.js("document.activeElement.blur()")
    d.key("p")
    d.wait_for("presenter mode", lambda: d.js("return document.querySelector('main').classList.contains('presenter')"))
    assert not d.js("return !!document.querySelector('#editor')"), "presenter mode hides the editor"
    assert d.js("return parseFloat(getComputedStyle(document.querySelector('main')).fontSize)") >= 20
    d.key("\ue014")  # → : opens the walk
    d.wait_for("the walk", lambda: card(d) is not None)
    d.key("\ue014")  # → : a step
    d.wait_for("step 2", lambda: position(d).startswith("step 2 "))
    d.wait_for("spoken", lambda: d.text("#live").startswith("Step 2:"))
    d.key("\ue012")  # ←
    d.wait_for("back", lambda: position(d).startswith("step 1 "))
    d.key(" ")
    d.wait_for("playing", lambda: d.text("#walk-play") == "Pause")
    d.wait_for("it plays", lambda: not position(d).startswith("step 1 "))
    d.key(" ")
    d.wait_for("paused", lambda: d.text("#walk-play") == "Play ▶")
    d.key("\ue011")  # Home
    d.wait_for("reset", lambda: position(d).startswith("step 1 "))
    d.screenshot("presenter-mode")
    d.key("?")
    d.wait_for("the help", lambda: d.js("return document.activeElement && document.activeElement.id") == "help-close")
    assert "play or pause" in d.text("#help")
    d.key("\ue00c")  # Escape
    d.wait_for("closed", lambda: not d.js("return !!document.querySelector('#help')"))
    # Typing in the editor is never a shortcut.
    d.key("p")
    d.wait_for("editor back", lambda: d.js("return !!document.querySelector('#editor')"))
    d.js("document.querySelector('#editor').focus()")
    d.key("p")
    assert d.js("return !!document.querySelector('#editor')")


def test_themes_follow_the_system_and_the_reader(d, site):
    bg = lambda: d.js("return getComputedStyle(document.body).backgroundColor")
    d.cdp("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    open_article(d, site + "?scenario=article")
    assert bg() == "rgb(21, 25, 29)", bg()
    choose(d, "#theme", "light")
    d.wait_for("light", lambda: bg() == "rgb(251, 251, 248)")
    d.cdp("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "light"}]})
    choose(d, "#theme", "dark")
    d.wait_for("dark", lambda: bg() == "rgb(21, 25, 29)")
    d.screenshot("dark-theme")
    d.get(site + "?scenario=article")
    d.wait_for("the choice remembered", lambda: bg() == "rgb(21, 25, 29)")


def test_reduced_motion_moves_the_packet_in_steps(d, site):
    d.cdp("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]})
    open_walk(d, site, "iptables")
    style = d.js("return document.querySelector('.topology .packet').getAttribute('style')")
    assert "transition: transform 0ms" in style, style


def test_languages(d, site):
    d.get(site + "?scenario=article&lang=zh-CN")
    d.wait_for("Chinese", lambda: d.text("#copy-link") == "复制链接")
    assert d.js("return document.documentElement.lang") == "zh-CN"
    about = d.text("#about summary")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in about), about
    d.hover(d.js("""for (const l of document.querySelectorAll('#output .vl'))
                      if (l.innerText.includes('-j DNAT')) return l;"""))
    gloss = d.wait_for("the glossary", lambda: d.text("#glossary"))
    assert "目的地址" in gloss or "DNAT" in gloss and any("\u4e00" <= ch <= "\u9fff" for ch in gloss), gloss
    d.click("#stage-packet")
    d.wait_for("the walk in Chinese", lambda: "第 1 步" in d.text("#walk-position"))
    d.screenshot("chinese")
    choose(d, "#lang", "en")
    d.wait_for("English", lambda: d.text("#copy-link") == "Copy link")
    # A reader whose browser prefers Chinese gets Chinese.
    profile = tempfile.mkdtemp(prefix="kpx-chromium-zh-")
    caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
        "binary": "/usr/bin/chromium", "args": CHROME_ARGS + [f"--user-data-dir={profile}", "--lang=zh-CN"],
        "prefs": {"intl.accept_languages": "zh-CN,zh"}}}}}
    zh = Driver.__new__(Driver)
    zh.port, zh.base, zh.profile, zh.downloads = d.port, d.base, profile, tempfile.mkdtemp()
    zh.session = zh.call("POST", "/session", caps)["sessionId"]
    try:
        assert zh.js("return navigator.language").startswith("zh"), zh.js("return navigator.language")
        zh.get(site + "?scenario=article")
        zh.wait_for("Chinese by default", lambda: zh.text("#copy-link") == "复制链接")
    finally:
        zh.quit()


def test_a_phone_screen(d, site):
    d.size(375, 812)
    open_article(d, site + "?scenario=article")
    width = lambda: d.js("return document.documentElement.scrollWidth")
    assert width() <= 376, width()
    d.screenshot("phone")
    d.click("#stage-packet")
    d.wait_for("the walk", lambda: card(d) is not None)
    assert width() <= 376, width()
    d.screenshot("phone-walk")
    d.click("#stage-charts")
    d.click("#send-1000")
    d.wait_for("a chart", lambda: d.js("return document.querySelectorAll('.run').length") == 1)
    assert width() <= 376, width()




# A link in the first format (k1), written when the format was made: old links must keep
# opening (raw DEFLATE of the state's JSON, base64url without padding).
FROZEN_V1 = ('k1.zZO_TsMwEIdf5WQGQEqqpCqlmCdgQRUgFsJwja_FSmJb9vUfVd8dJ7SlAwwwoCqL47v77vsN3gimFQspzgBh6u07Gai1qSQ0qAiWmt-gcqvzAFPtA3c1mFrfIMNFlV_egmZo5rFSETmwjow2s8Kg08_kg7ZGwiIvTKWNkvBIfqFLKkxDjAoZJWwMNiRhSZNtYYKjUhYGoKwjkvzdWEKe9W6Gvax3lbWFQDWVbH0cROf2cwDOeg4SXjbtQcIoS4DRz4jHu_9Rtn0tTJqmP7mNrfreK42sGidUh-Ole9vYaBXdd83tKcUESmsYtYk7WqMDKPmyPHQc68UvQhl53m5yVu3i9weDNn_HVZqjd8fgtYvcB0K1TmA_VognP6dCdKw_pc1PIu3wn9L2TyLt9e_TikQ0USm-XDNlnNQU4s1C0_LzJq11YLH9AA')


def test_old_links_keep_working(d, site):
    d.get(site + "#" + FROZEN_V1)
    d.wait_for("the linked state", lambda: "numgen random mod 3" in output(d))
    assert d.js("return document.querySelector('#mode').value") == "nftables"
    assert "# a frozen link" in editor_text(d)
    assert d.js("return document.querySelector('.tab[aria-selected=true]').dataset.view") == "nft-list"


def test_the_embed_example_page(d, site):
    base = site.rsplit("/", 1)[0]
    d.get(base + "/embed-example.html")
    frames = d.wait_for("three iframes", lambda: len(d.js("return [...document.querySelectorAll('iframe[data-kpx]')]")) == 3
                        and d.js("return [...document.querySelectorAll('iframe[data-kpx]')]"))
    # Each iframe grows to its content (the fixed fallbacks are 480 and 520 px).
    d.wait_for("resized iframes", lambda: all(h not in (480, 520) for h in
                                              d.js("return [...document.querySelectorAll('iframe[data-kpx]')].map(f => f.getBoundingClientRect().height)")))
    d.screenshot("embed-example")
    d.frame(frames[0])
    d.wait_for("the rules", lambda: ARTICLE_LINE in output(d))
    assert not d.js("return !!document.querySelector('#editor')"), "embeds hide the editor by default"
    link = d.wait_for("the link", lambda: d.js("return document.querySelector('#open-in-kpx').getAttribute('href')"))
    assert "#k1." in link and "embed=1" not in link, link
    d.frame(None)
    d.frame(frames[1])
    d.wait_for("the walk at step 6", lambda: "step 6 of" in d.text("#walk-position"))
    assert d.js("return document.querySelector('#mode').value") == "nftables"
    d.frame(None)
    d.frame(frames[2])
    d.wait_for("Chinese, list view", lambda: "Chain KUBE-SERVICES" in output(d) and d.js("return document.documentElement.lang") == "zh-CN")
    d.frame(None)
    # Opening "Open in kpx" gives the full page with the same state.
    d.get(link)
    d.wait_for("the full page", lambda: ARTICLE_LINE in output(d) and d.js("return !!document.querySelector('#editor')"))


def test_a_sub_path_and_no_other_origin(d, site):
    base = site.rsplit("/", 1)[0]
    d.get(SUBPATH_SITE + "?scenario=article")
    d.wait_for("the rules under a sub-path", lambda: ARTICLE_LINE in output(d))
    d.click("#stage-charts")
    d.click("#send-1000")
    d.wait_for("a chart", lambda: d.js("return document.querySelectorAll('.run').length") == 1)
    resources = d.js("return performance.getEntriesByType('resource').map(r => r.name).concat([location.href])")
    origin = SUBPATH_SITE.split("/docs/")[0]
    others = [r for r in resources if not r.startswith(origin + "/") and not r.startswith("data:") and not r.startswith("blob:")]
    assert not others, others
    assert all("/docs/kpx/" in r for r in resources if r.startswith("http")), resources


# ---------------------------------------------------------------- hostile input, bugs, lost work

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def test_markup_in_the_input_is_shown_as_text(d, site):
    open_article(d, site)
    d.js("window.__pwned = undefined")
    hostile_service = f"""---
# {HOSTILE}
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
  labels: {{app: '{HOSTILE}'}}
  annotations: {{note: '{HOSTILE}'}}
spec:
  clusterIP: 10.96.7.7
  selector: {{app: nginx}}
  ports: [{{name: '{HOSTILE}', port: 80}}]
"""
    set_text(d, editor_text(d) + hostile_service)
    d.wait_for("the new text drawn", lambda: HOSTILE in d.js("return document.body.innerText"))
    # Hover the rules so the explanation panel shows provenance too.
    for row in d.s("POST", "/elements", {"using": "css selector", "value": "#output .line"})[:60]:
        d.hover(row[ELEMENT])
    # The same markup where kpx quotes it back in an error.
    set_text(d, editor_text(d) + f"---\napiVersion: v1\nkind: Service\nmetadata: {{name: x}}\n"
                                 f"spec: {{clusterIP: '{HOSTILE}', ports: [{{port: 80}}]}}\n")
    d.wait_for("the error quoting it", lambda: HOSTILE in d.text("#errors"))
    assert d.js("return window.__pwned") is None
    assert d.js("return document.querySelectorAll('img[src=x], script:not([src])').length") == 0


@functools.lru_cache(maxsize=None)
def page_policy():
    html = open(os.path.join(DIST, "index.html"), encoding="utf-8").read()
    assert '<script type="module">' not in html, "Trunk's loader is still inline"
    return re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)


CSP_WATCH = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
             "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")


def test_a_strict_content_security_policy_holds(d, site):
    policy = page_policy()
    script_src = next(p.strip() for p in policy.split(";") if p.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, script_src
    docs = open(os.path.join(ROOT, "docs", "embedding.md"), encoding="utf-8").read()
    assert policy in docs, "docs/embedding.md must give the page's policy as the header to set"
    d.cdp("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_WATCH})
    # Served with the policy as a header as well as the page's meta tag.
    d.get(STRICT_SITE + "?scenario=article&panel=packet")
    d.wait_for("the rules and the walk", lambda: ARTICLE_LINE in output(d) and d.js("return !!document.querySelector('#card-0')"))
    d.click("#walk-play")
    d.click("#stage-charts")
    d.click("#send-1000")
    d.wait_for("a chart", lambda: d.js("return document.querySelectorAll('.run svg').length") >= 1)
    assert d.js("return window.__csp") == [], d.js("return window.__csp")
    # The policy is in force: an inline script is refused.
    d.js("const s = document.createElement('script'); s.textContent = 'window.__inline = 1'; document.head.append(s)")
    assert d.js("return window.__inline") is None
    d.wait_for("the refusal", lambda: any(v.startswith("script-src") for v in d.js("return window.__csp")))
    refused = d.console_errors()
    assert refused and all("Content Security Policy" in e for e in refused), refused


def test_a_bug_shows_a_message_and_keeps_the_text(d, site):
    open_article(d, site)
    edit_article_port(d, 8082)
    # The reader's last keystroke, not yet handled when the bug strikes.
    d.js("const e = document.querySelector('#editor'); e.value = e.value.replace('port: 8082,', 'port: 8083,')")
    d.js("try { window.wasmBindings.kpxTestPanic() } catch (e) {}")
    d.wait_for("the message", lambda: "hit a bug" in d.text("#crash"))
    assert d.js("return document.querySelector('#crash-download').href").startswith("blob:")
    errors = d.console_errors()
    assert any("a panic the tests asked for" in e for e in errors), errors
    d.get(site)  # a new visit: the saved work
    d.wait_for("the last keystroke kept", lambda: "--dport 8083" in output(d))
    assert not d.js("return document.querySelector('#crash')")


def test_a_link_opened_over_the_readers_work_keeps_it(d, site):
    open_article(d, site)
    edit_article_port(d, 8084)
    # A link pasted into this tab (the fragment changes, the page stays) …
    d.get(site + "#" + FROZEN_V1)
    d.wait_for("the notice", lambda: "Your own text from before is kept" in d.text("#work-notice"))
    assert "--dport 8084" not in output(d)
    d.click("#work-restore")
    d.wait_for("the reader's text back", lambda: "--dport 8084" in output(d))
    # … and a link opened in a new page.
    d.get("about:blank")
    d.get(site + "#" + FROZEN_V1)
    d.wait_for("the notice", lambda: "Your own text from before is kept" in d.text("#work-notice"))
    d.click("#work-restore")
    d.wait_for("the reader's text back", lambda: "--dport 8084" in output(d))
    # Dismissed, it goes; an unchanged scenario is not "work" and gets no notice.
    d.get("about:blank")
    d.get(site + "?scenario=article")
    d.wait_for("the article", lambda: ARTICLE_LINE in output(d))
    d.get("about:blank")
    d.get(site + "#" + FROZEN_V1)
    d.wait_for("the link", lambda: "10.96.0.50" in output(d))
    assert not d.js("return document.querySelector('#work-notice')")


def test_a_link_opened_while_the_last_change_is_kept_keeps_that_change(d, site):
    """The link of a change is made after its drawing, in tasks (main.rs, `use_kept`): a link
    opened before it is done keeps the reader's latest change, not the one before it."""
    open_article(d, site)
    edit_article_port(d, 8087)
    # While the next change's link is being made (at its first part), a link is opened.
    when_first_measured(d, "kpx:link", "history.replaceState(null, '', '#' + " + json.dumps(FROZEN_V1) + ");"
                        "window.dispatchEvent(new HashChangeEvent('hashchange'));")
    set_text(d, editor_text(d).replace("port: 8087,", "port: 8088,"))
    d.wait_for("the notice", lambda: "Your own text from before is kept" in d.text("#work-notice"))
    d.wait_for("the link", lambda: "10.96.0.50" in output(d))
    d.click("#work-restore")
    d.wait_for("the reader's latest change back", lambda: "--dport 8088" in output(d))


def test_two_tabs_do_not_clobber_each_other_silently(d, site):
    open_article(d, site)
    edit_article_port(d, 8085)
    first = d.s("GET", "/window")
    second = d.s("POST", "/window/new", {"type": "tab"})["handle"]
    d.s("POST", "/window", {"handle": second})
    d.get(site)  # a new visit starts from the saved work
    d.wait_for("the saved work", lambda: "--dport 8085" in output(d))
    set_text(d, editor_text(d).replace("port: 8085,", "port: 8086,"))
    d.wait_for("the second tab's edit", lambda: "--dport 8086" in output(d))
    d.s("POST", "/window", {"handle": first})
    d.wait_for("the notice", lambda: "Another kpx tab" in d.text("#work-notice"))
    assert "--dport 8085" in output(d), "this tab keeps its own text"
    d.click("#work-restore")
    d.wait_for("the other tab's text", lambda: "--dport 8086" in output(d))


# The load budget is 350 KB of wasm + JS + CSS, gzipped (issue 8); the site is not there yet.
# This ratchet keeps it from growing while it comes down: lower it with every saving (the
# figures are in BENCHMARKS.md, `scripts/bench.sh` prints them). Raised once, 575,000 ->
# 580,000, for the large-text path (reading in parts, the huge-text viewer, the windowed
# gutter: 6 KB), which took a 10,000-Service paste from 10.8 s to 2.2-2.6 s; and once more,
# -> 581,000, for the review's fixes of it (the focus kept when the text box and the viewer
# swap, a moved-on edit made again in steps, the percentage kept from screen readers: 2.4 KB);
# and once more, -> 596,000, for making every step of a large edit in parts (kpx-core's
# analysis, builders and renderers as paced `async` work, kpx_core::pace: 13 KB of state
# machines), which took the longest task of a 10,000-Service paste from 595 ms to about 100,
# and for saying when work is too large to keep (1.5 KB); and -> 602,000 (601,084) for the
# link made a part at a time (kpx_core::share::encode_paced), large saved work opened in steps,
# and the analysis's last one-piece indexes paced (defined_once, written_lines): 5.6 KB, for
# a reload of 10,000 Services that no longer holds the page 3 s, and the 0.6-0.8 s link task
# of a 44,125-Service paste gone; and -> 605,000 (604,228) for reading an edited text again by
# the sections it changed (kpx_core::input::Reading::after: 2.6 KB), which took a key's reading
# at 1,000 Services from 60 ms to under 1, and the latest change kept at once when a link or
# another tab's work would displace it (0.8 KB); and -> 606,000 (605,874) for a review's fixes
# of those (the flush in the page's language, not over a link in the address; no second run of
# one edit) and the hook the tests count sections read with (0.9 KB). Lowered -> 601,500
# (601,246) when the cluster came to share the input's objects instead of copying them (the
# deep copies of k8s-openapi's Service, EndpointSlice, Pod and Node types were 4.6 KB). Raised
# -> 602,500 (602,463) for fewer allocations in building the dataplane (a chain declared with
# one look-up through hashbrown's entry API, names made once; 0.9 KB: iptables::build at 10,000
# Services went from 1,518,141 to 1,225,977 allocations) and for inflating saved work in calls
# the browser's optimised code takes over (0.3 KB; 83 -> about 20 ms on a reload at 10,000);
# and -> 603,500 (603,454; 603,478 with the slices' index paced) for letting go of an
# analysed text's reading in parts (Scenario::dispose, and the page's analysis waiting for it:
# 1.0 KB, for a 189-235 ms task gone at 44,125 Services and a 66-83 ms one at 10,000); and
# -> 605,000 (604,990) for sorting chains by name a part at a time (kpx_core::pace::sort_by, the
# listing order of `iptables-save`, `iptables -L` and nft: 115 ms in one piece natively at
# 44,125 Services), counting `iptables -L`'s references in parts, and an index of
# /etc/services' port names (reading its 361 lines for every port of every rule was a quarter
# of `iptables -L` in the wasm): 1.5 KB; and -> 608,000 (607,804) for a large text's choices
# (a view, a mode, the compared mode, the namespaces, a node) made in steps as an edit's views
# are, instead of whole in the click's task (seconds at 44,125 Services), with its own words on
# the busy status, views let go of in parts (web/src/dispose.rs: 300-600 ms tasks), and view
# steps sized by their pace: 2.8 KB; and -> 610,000 (609,914) for opening large saved work a
# part at a time before the page is mounted (kpx_core::share::decoding, web/src/opening.rs:
# the 38 MB of 44,125 Services were a 155-203 ms piece of the first drawing's task) and the
# link kept in a task of its own: 2.1 KB (5.6 KB with a second state machine for `decode`);
# and -> 610,500 (610,439) for `nft list` and `ipvsadm -Ln`'s lines made a part at a time (a
# mode chosen at 10,000 Services held the page 312-364 ms): 0.5 KB; and -> 611,000 (610,955)
# for `nft list`'s element blocks written in parts with each element's sort key made once (a
# 223-329 ms piece per large map at 44,125 Services) and the nft and IPVS builders' indexes
# sized once (102-152 ms pieces): 0.5 KB; and -> 612,000 (611,681) for a review's fixes: a
# choice's steps stop or start again from the current state when it moved on (they could set
# an older copy over a node chosen meanwhile), a view is held once for letting go of, and
# leaving the page keeps a change whose link is still being made (`pagehide`): 0.7 KB; and
# -> 614,000 (613,507) for every view made a part at a time (kubectl's tables, nft-load,
# ipset, addr: pieces of 0.5-2.3 s natively at 44,125 Services, and kubectl get ep's search of
# every slice per Service, 305 s), indexes for three searches that were quadratic (get ep's
# slices, IPVS's bound addresses, a selector's Pods and a Service's Endpoints), and saved work's
# JSON read in parts (a 130-190 ms piece of a reload at 44,125): 1.9 KB; and -> 615,000
# (614,725) for keeping, as the page is left, a text whose edit is still being analysed in
# steps (it was lost: test_leaving_while_an_edit_is_analysed_keeps_it): 1.2 KB, mostly the
# App component's hooks laid out again (614,953 with a review's fixes: a text replaced since
# is told by identity, one map key's elements keep their order, get ep's index in parts);
# and -> 616,500 (616,050) for a Deployment's Pods found through indexes (3,000 Deployments of
# 10 replicas took 19.8 s natively, 0.95 s now): 1.1 KB (616,203 after a re-read shared the
# Pods' index and the keyed sorts as generic helpers); and -> 618,000 (617,592) for the
# nftables and IPVS builders' indexes keeping positions instead of copies of their keys
# (kpx_core::members: 840,000 strings at 44,125 Services let go of in one 83 ms piece, and an
# ipset index that outgrew its room, 71 ms): 1.4 KB (2.7 KB with a copy of the index's code
# per builder); and -> 618,500 (618,188) for a large text's cuts scanned a part at a time
# (kpx_core::input::reading's Scan: 38 MB scanned at once was a 95 ms piece of a paste) and
# its objects gathered in a task of their own: 0.6 KB; and -> 619,000 (618,533) for a
# review's fixes: a huge text's reading let go of in parts when another edit stops it, the
# positions' index seeded per process (0.3 KB); and -> 624,500 (623,910) for a long text's
# text box holding only the lines around those in sight (web/src/windowed.rs: Chromium's own
# work for a key typed into 27,000 lines was 60-110 ms; a key -> its rules 147-158 -> 87-95 ms
# at 1,000 Services): 5.5 KB, the editor's third way of showing a text and its keys, caret and
# clipboard; and -> 625,000 (624,712) for a review's fixes of it: select all kept across a
# window move and through the menu's Paste, but not through undo or a drop; Ctrl+Home and End
# before a caret away from the window; a selection brought back whole; the text box refitted
# to its lines at each key; the panic hook's rescue of the whole text (0.8 KB); and down -> 611,000
# (610,343): every stable sort of kpx-core through one (kpx_core::pace::sort_stable_by; Rust's
# sort is a copy per item type and comparison, eleven were 40 KB before wasm-opt), a set built
# without a sort, an edit's changes compared in one copy (kpx_core::changes), clippy's
# rewrites: -14.4 KB (610,268 with iptables-save's lines written without the formatter; 610,815
# with the next task started by a message, not setTimeout(0) and its 4 ms clamp: web/src/task.rs);
# and -> 611,500 (611,363) for the long text's window waiting while an input method composes
# (Chinese, Japanese: scrolling meanwhile set the text box's text and ended the composition);
# and -> 612,500 (612,123) for a reload in the middle of a change opening the change, not the
# address it started from (web/src/keep.rs, left_at: the tab remembers its newer work and the
# addresses a reload may go to in session storage; it used to be offered back in a banner): 0.7 KB
# (612,496 with a review's fixes: this tab's own latest work, on a reload only, not in embeds);
# and down -> 612,100 (612,026): the analysis shares the input's Services instead of copying each;
# and -> 612,700 (612,622) for the reader's positions as one flat list per document, with where a
# long sequence's items start (a `kind: List`'s thousands of items are otherwise found in quadratic time):
# 0.6 KB, for 14 % less memory after reading 10,000 Services natively (612,711 with a review's fixes:
# the long sequences sorted and looked up by halves, a key's own let go of from the end);
# and down -> 611,900 (611,837): a view's lines as texts in a few pieces with what each stands
# for, the reader's lines behind a line looked up only for the line shown; and -> 612,400 (612,361)
# for an edit's steps measured a task at a time (0.2 KB; a measure a step was hundreds of calls out
# of the wasm a key), a declared name shared with its chain (0.1 KB), and each pane keeping where
# its objects are written (0.2 KB, a review's finding: the focused line's "Written at" went
# missing while a node was chosen); and -> 618,600 (618,381; 618,503 with a review's checks: a port's
# recorded calls checked against the old dataplane, each copied line's anchor) for an edit built from
# the one before it:
# its iptables dataplane copying the service ports the edit left as they were (4.1 KB: a port and
# kube-proxy's settings compared, the builder's calls recorded and made again) and its save view
# copying the lines of the chains whose rules did not change (1.8 KB): a key at 1,000 Services
# 73-86 -> 61-66 ms to its rules; and -> 623,700 (623,559; 623,612 with a review's fixes: a long
# run copied in parts, a shared index not held, a copy into an empty view) for a key's save view
# copied in runs and its changes found from what was copied (5.1 KB; the raw wasm +9.3 KB:
# `Changes::between`'s wrapper 1.2 KB, `same_rule` no longer inlined 1.2 KB, `LineSink::copy`
# 1 KB, the kept listing order 1 KB, comparing lines 0.5 KB): a key at 1,000 Services 60-65 ->
# 44-46 ms to its rules; and -> 625,400 (625,327) for the `nft list` view written into a sink and
# copied after an edit (1.7 KB: the streaming writer, the blocks' lookup, the nftables model's
# `PartialEq`): a key at 1,000 Services in nftables mode 128-155 -> 74-87 ms to its rules; and ->
# 625,900 (625,838) for a review's finding: the old view, its names and the run taken looked
# through a part at a time (0.5 KB; at 44,125 Services an edit compared half a million objects
# in one piece); and -> 627,200 (627,139) for the `ipvsadm` view written into a sink and copied
# after an edit (1.3 KB): a key at 1,000 Services in IPVS mode 59-83 -> 39-50 ms to its rules;
# and -> 627,400 (627,381) for its review's fixes (0.2 KB: ipvsadm's order kept with the tables,
# addresses compared without allocating, a unit of work a line written); and -> 627,700 (627,651)
# for a reload to open the latest change when changes were kept while it loaded (0.3 KB: every
# address the page showed remembered, not only the last one replaced); and -> 627,800 (627,764)
# for an edit of the text's own `mode:` shown over a chosen mode (0.1 KB); and -> 628,000
# (627,946) for its review's fixes and ipvsadm's lookup map made a part at a time (0.2 KB: a
# reload no longer applies `?mode=` again over its own fragment; another start forgets the note);
# and -> 629,800 (629,764) for nftables mode's table built after an edit from the one before (1.8
# KB: the ports' objects recorded and copied, chains shared as `Rc<Chain>` and cloned on write):
# a key at 1,000 Services in nftables mode 74-88 -> 51-62 ms to its rules; and -> 631,600
# (631,527) for the service port map made after an edit from the one before (1.8 KB: each
# Service's objects kept with the memos and compared by address, its ports copied): a key at
# 1,000 Services in nftables mode 53-57 -> 48-49 ms to its rules; and -> 631,800 (631,761) for
# its review's fixes (0.2 KB: the nftables memo holds the chains, sets and elements it copies
# rather than positions in a table whose lists are public; a port another writes into is not
# copied, and the others still are); and -> 632,400 (632,331) for the cluster built after an
# edit not checking again the objects the one before checked clean (0.6 KB): a key's cluster
# step at 1,000 Services 10.7-11.3 -> 5.4-7.3 ms; and -> 632,700 (632,641) for a rule's
# matches shared with the rule an edit's build copies it from, and found alike by address (0.4
# KB, most of it collecting an endpoint's rules' matches straight into their slice): a save
# view's lines after a key at 1,000 Services 7.8-8.2 -> 4.5-5.3 ms natively; and -> 633,700
# (633,611) for a key's cluster step hashing the names it checks and indexes (1.0 KB: two more
# shapes of hash table, over object references): natively 1.34 -> 0.52 ms at 1,000 Services;
# and -> 634,400 (634,353) for names checked for duplicates only when they are not the very
# names of the build before (0.7 KB: the names kept and compared): in the wasm's profile the
# check 1.75 -> 0.54 ms a key, natively the analysis after a key 0.52 -> 0.43 ms; and -> 634,700
# (634,649) for a large text's link made once the typing pauses (0.3 KB: a timer, the link's
# closure moved into it): 19-20 ms of each key's work at 1,000 Services gone; and -> 635,200
# (635,171) for the chains a build after an edit copied whole, known as copies and their save
# lines taken unread (0.5 KB: a build's number, the mark kept per rule, the check): a key's
# views step at 1,000 Services 10.3-12.7 -> 8.0-9.0 ms in the wasm; and -> 635,300 (635,227)
# for the state before an edit let go of in a task after the drawing's (56 B): the drawing's
# task at 1,000 Services 3.4-4.5 ms shorter; and -> 635,500 (635,402) for IPVS mode's service
# port map made from the one before an edit (0.2 KB): its dataplane step at 1,000 Services
# 11.3-13.0 -> 4.4-6.0 ms in the wasm; and -> 635,900 (635,826) for a change drawn but not yet
# taken up by its effects kept when the page is left in between (0.4 KB: the change drawn and
# the one taken up, compared): test_leaving_while_an_edit_is_analysed_keeps_it failed one run in
# five, 10 of 10 pass; and -> 636,300 (636,220) for a large cluster's uncommented match lists
# made once and shared, and a port's SVL, EXT and FW names hashed only when used (0.4 KB: the
# lists kept, the names' lazy cells): natively the 10,000 x 10 build + restore 160-163 ->
# 144-148 ms, the wasm's heap after it 175 -> 168 MiB; -> 637,700 (637,666) for a List's items
# read as each is complete (0.4 KB: kubectl's List of 10,000 Services peaked at 758 MiB of wasm
# heap, now 245) and the benchmark hook's kubectl-shaped cluster (1.0 KB, measured without it:
# the page never calls it, bench.py --kubectl pastes it); -> 634,700 (634,695) when a List's
# items, handed out or in its value, came to be read through one function (ListItems::read),
# not two loops: -3.0 KB, measured at that commit (why wasm-opt makes so much less of it was
# not looked into); -> 638,300 (638,152) for a List as kubectl prints it read an item at a time
# after an edit (its items cut into sections, its head and tail read as its frame: +2.2 KB) and
# read whole when pasted, its items kept apart for the next edit (+1.3 KB): a key in 400
# Services as kubectl prints them 142-146 -> 23-30 ms p50.
SIZE_BUDGET = 358_400
SIZE_RATCHET = 638_300


def test_the_site_stays_within_its_size_ratchet(d, site):
    import glob
    import gzip
    files = [f for f in glob.glob(os.path.join(DIST, "*")) if f.endswith((".wasm", ".js", ".css"))]
    sizes = {os.path.basename(f): len(gzip.compress(open(f, "rb").read(), 9)) for f in files}
    total = sum(sizes.values())
    print(f"  site: {total:,} bytes gzipped (ratchet {SIZE_RATCHET:,}, budget {SIZE_BUDGET:,}): {sizes}")
    assert any(f.endswith(".wasm") for f in sizes), sizes
    assert total <= SIZE_RATCHET, f"the site grew to {total:,} bytes gzipped (ratchet {SIZE_RATCHET:,})"


def main():
    if not os.path.exists(os.path.join(DIST, "index.html")):
        print("dist/index.html missing: build the site first (trunk build --release)", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    http_port, driver_port, sub_port, strict_port, slow_port = free_ports(5)
    strict = http.server.ThreadingHTTPServer(("127.0.0.1", strict_port), functools.partial(Strict, directory=DIST))
    threading.Thread(target=strict.serve_forever, daemon=True).start()
    global STRICT_SITE
    STRICT_SITE = f"http://127.0.0.1:{strict_port}/index.html"
    slow = http.server.ThreadingHTTPServer(("127.0.0.1", slow_port), functools.partial(Slow, directory=DIST))
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    global SLOW_SITE
    SLOW_SITE = f"http://127.0.0.1:{slow_port}/index.html"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", http_port), functools.partial(Quiet, directory=DIST))
    # The same site under a sub-path, as a static host would serve it.
    mount = tempfile.mkdtemp(prefix="kpx-subpath-")
    os.makedirs(os.path.join(mount, "docs"))
    os.symlink(DIST, os.path.join(mount, "docs", "kpx"))
    sub = http.server.ThreadingHTTPServer(("127.0.0.1", sub_port), functools.partial(Quiet, directory=mount))
    threading.Thread(target=sub.serve_forever, daemon=True).start()
    global SUBPATH_SITE
    SUBPATH_SITE = f"http://127.0.0.1:{sub_port}/docs/kpx/index.html"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    chromedriver = start_chromedriver(driver_port)
    site = f"http://127.0.0.1:{http_port}/index.html"
    passed = failed = 0
    try:
        tests = [v for k, v in sorted(globals().items()) if k.startswith("test_")]
        # `run.py WORD…` runs the tests whose names contain a WORD (while working on them).
        if len(sys.argv) > 1:
            tests = [t for t in tests if any(w in t.__name__ for w in sys.argv[1:])]
        for t in tests:
            d = Driver(driver_port)
            try:
                t(d, site)
                errors = d.console_errors()
                assert not errors, f"console errors: {errors}"
                passed += 1
                print(f"test {t.__name__} ... ok")
            except Exception:
                failed += 1
                print(f"test {t.__name__} ... FAILED")
                traceback.print_exc()
            finally:
                d.quit()
    finally:
        chromedriver.terminate()
        server.shutdown()
        sub.shutdown()
        strict.shutdown()
        slow.shutdown()
        shutil.rmtree(mount, ignore_errors=True)
    print(f"browser: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
