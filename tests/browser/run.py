#!/usr/bin/env python3
"""Browser tests: the built site (dist/) in a real headless Chromium, driven over WebDriver.

Standard library only. Serves dist/ on a free loopback port, starts Debian's chromedriver
with a fresh profile, and checks what a reader sees: the seed scenario's live `save` view,
typing that changes the rules, a YAML error with line and column that keeps the last good
output, and switching views. Ends with the line "N passed, N failed".
"""
import functools
import http.server
import json
import os
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
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C WebDriver element key
CHROME_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--window-size=1400,1000",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm"}

    def log_message(self, *args):
        pass


class Driver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.profile = tempfile.mkdtemp(prefix="kpx-chromium-")
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": "/usr/bin/chromium", "args": CHROME_ARGS + [f"--user-data-dir={self.profile}"]}}}}
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

    def quit(self):
        try:
            self.s("DELETE", "")
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


ARTICLE_LINE = ('-A KUBE-SVC-2CMXP7HKUVJN7L6M -m comment --comment "default/nginx" '
                '-m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-C2Y64IBVPH4YIBGX')


def output(d):
    return d.js("return document.querySelector('#output').textContent")


def test_seed_scenario_is_loaded_and_rendered(d, site):
    d.get(site)
    d.wait_for("the save view", lambda: ARTICLE_LINE in output(d))
    editor = d.js("return document.querySelector('#editor').value")
    assert "name: nginx" in editor and "10.109.134.113" in editor, editor[:200]


def test_typing_a_service_updates_the_rules(d, site):
    d.get(site)
    d.wait_for("the save view", lambda: ARTICLE_LINE in output(d))
    d.js("const e = document.querySelector('#editor'); e.focus(); e.setSelectionRange(e.value.length, e.value.length);")
    d.type("#editor", "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n"
                      "spec:\n  clusterIP: 10.96.5.5\n  ports:\n  - {port: 80}\n")
    want = ('-A KUBE-SERVICES -d 10.96.5.5/32 -p tcp -m comment --comment "default/web has no endpoints" '
            '-m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable')
    d.wait_for("the new Service's REJECT rule", lambda: want in output(d))


def test_invalid_yaml_shows_line_and_column_and_keeps_output(d, site):
    d.get(site)
    d.wait_for("the save view", lambda: ARTICLE_LINE in output(d))
    lines = d.js("return document.querySelector('#editor').value.split('\\n').length")
    d.js("const e = document.querySelector('#editor'); e.focus(); e.setSelectionRange(e.value.length, e.value.length);")
    d.type("#editor", "---\nkind: Service\nspec: {ports: [\n")
    err = d.wait_for("an error", lambda: d.text("#errors"))
    assert "line " in err and "col " in err, err
    assert int(err.split("line ")[1].split(",")[0]) >= lines, (err, lines)
    assert ARTICLE_LINE in output(d), "the last good output must stay"
    # An out-of-range port: the API server's words, at the field's position.
    d.js("const e = document.querySelector('#editor');"
         "e.value = e.value.replace('spec: {ports: [\\n', '');"
         "e.value = e.value.replace('port: 8080, targetPort: 80', 'port: 70000, targetPort: 80');"
         "e.dispatchEvent(new InputEvent('input', {bubbles: true}));")
    err = d.wait_for("a port error", lambda: "70000" in d.text("#errors") and d.text("#errors"))
    assert "must be between 1 and 65535, inclusive" in err and "line " in err, err
    assert ARTICLE_LINE in output(d)


def test_switching_views(d, site):
    d.get(site)
    d.wait_for("the save view", lambda: ARTICLE_LINE in output(d))
    d.js("const s = document.querySelector('#view'); s.value = 'get-svc';"
         "s.dispatchEvent(new Event('change', {bubbles: true}));")
    d.wait_for("kubectl get svc", lambda: "nginx        ClusterIP   10.109.134.113" in output(d))
    assert "kube-dns" not in output(d), "plain kubectl get shows the default namespace"
    d.js("const c = document.querySelector('#all-namespaces'); c.click();")
    d.wait_for("kubectl get svc -A", lambda: "kube-system   kube-dns" in output(d))
    d.js("const s = document.querySelector('#view'); s.value = 'list';"
         "s.dispatchEvent(new Event('change', {bubbles: true}));")
    d.wait_for("iptables -L", lambda: "tcp dpt:webcache" in output(d))


def test_text_survives_a_reload(d, site):
    d.get(site)
    d.wait_for("the save view", lambda: ARTICLE_LINE in output(d))
    d.js("const e = document.querySelector('#editor');"
         "e.value = e.value.replace('port: 8080, targetPort: 80', 'port: 8081, targetPort: 80');"
         "e.dispatchEvent(new InputEvent('input', {bubbles: true}));")
    d.wait_for("the edited port", lambda: "--dport 8081" in output(d))
    d.get(site)
    d.wait_for("the edited text after reload", lambda: "--dport 8081" in output(d))
    assert "port: 8081" in d.js("return document.querySelector('#editor').value")


def test_embedding_with_url_parameters(d, site):
    d.get(site + "?preset=tour&view=list")
    d.wait_for("the tour in the list view",
               lambda: "Chain KUBE-SERVICES" in output(d) and "shop/web:http" in output(d))
    assert d.js("return document.querySelector('#view').value") == "list"


def test_loading_a_preset(d, site):
    d.get(site)
    d.wait_for("the save view", lambda: ARTICLE_LINE in output(d))
    d.js("const s = document.querySelector('#preset'); s.value = 'tour';"
         "s.dispatchEvent(new Event('change', {bubbles: true}));")
    d.wait_for("the tour's rules", lambda: "KUBE-FW-OTVU7MV6PRR7MW2X" in output(d))


def test_switching_nodes(d, site):
    d.get(site + "?preset=tour")
    local_a = '-A KUBE-SVL-67NZLRHBNDSAWJRO -m comment --comment "shop/web:http -> 10.244.1.3:8080" -j KUBE-SEP-CACHYPJ5WX3OY2BV'
    d.wait_for("node-a's local endpoints", lambda: local_a in output(d))
    d.js("const s = document.querySelector('#node'); s.value = 'node-b';"
         "s.dispatchEvent(new Event('change', {bubbles: true}));")
    local_b = '-A KUBE-SVL-67NZLRHBNDSAWJRO -m comment --comment "shop/web:http -> 10.244.2.2:8080" -j KUBE-SEP-LYOGWTXD3FSSWSCA'
    d.wait_for("node-b's local endpoint", lambda: local_b in output(d))
    assert local_a not in output(d)


def test_rules_say_why_they_exist(d, site):
    d.get(site)
    d.wait_for("the save view", lambda: ARTICLE_LINE in output(d))
    why = d.js("""for (const s of document.querySelectorAll('#output .why'))
                    if (s.textContent.startsWith('-A KUBE-SVC-2CMXP7HKUVJN7L6M') && s.textContent.includes('C2Y64IBVPH4YIBGX'))
                      return s.title;
                  return null;""")
    assert why and "Service default/nginx" in why and "endpoint 172.17.0.3:80" in why and "Pod default/nginx-deployment-9456bbbf9-zbtt2" in why, why


def test_switching_to_nftables_mode(d, site):
    d.get(site)
    d.wait_for("the save view", lambda: ARTICLE_LINE in output(d))
    d.js("const s = document.querySelector('#mode'); s.value = 'nftables';"
         "s.dispatchEvent(new Event('change', {bubbles: true}));")
    d.wait_for("nft list", lambda: output(d).startswith("table ip kube-proxy {") and "numgen random mod 3 vmap" in output(d))
    assert d.js("return document.querySelector('#view').value") == "nft-list"
    d.js("const s = document.querySelector('#view'); s.value = 'nft';"
         "s.dispatchEvent(new Event('change', {bubbles: true}));")
    d.wait_for("the nft view",
               lambda: "add element ip kube-proxy service-ips { 10.109.134.113 . tcp . 8080 : goto service-" in output(d))


def test_ipvs_preset_and_views(d, site):
    d.get(site + "?preset=article-ipvs")
    d.wait_for("ipvsadm -Ln", lambda: output(d).startswith("IP Virtual Server version 1.2.1 (size=4096)")
               and "TCP  10.109.134.113:8080 rr" in output(d))
    assert d.js("return document.querySelector('#mode').value") == "ipvs", "the input's mode is shown"
    assert "  -> 172.17.0.3:80                Masq    1      0          0" in output(d)
    d.js("const s = document.querySelector('#view'); s.value = 'addr';"
         "s.dispatchEvent(new Event('change', {bubbles: true}));")
    d.wait_for("kube-ipvs0", lambda: "    inet 10.96.0.10/32 scope global kube-ipvs0" in output(d))


def main():
    if not os.path.exists(os.path.join(DIST, "index.html")):
        print("dist/index.html missing: build the site first (trunk build --release)", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    http_port, driver_port = free_port(), free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", http_port), functools.partial(Quiet, directory=DIST))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    chromedriver = subprocess.Popen(["chromedriver", f"--port={driver_port}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    site = f"http://127.0.0.1:{http_port}/index.html"
    passed = failed = 0
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{driver_port}/status", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        tests = [v for k, v in sorted(globals().items()) if k.startswith("test_")]
        for t in tests:
            d = Driver(driver_port)
            try:
                t(d, site)
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
    print(f"browser: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
