#!/usr/bin/env python3
"""Browser benchmarks: the built site (dist/) in headless Chromium, measured, never asserted.

Prints one line per figure: load (first render), edit-to-render latency (median and p95 over
repeated edits) for the article and for a 1,000-Service scenario, the longest main-thread task
while editing the big one, frame deltas while the packet plays, and the walk's step time.
kpx-core's own work inside the wasm (generating, parsing, building and rendering clusters of
10 … 44,000 Services, one trace, a million simulated connections, the wasm heap) is timed through
the page's benchmark hooks (web/src/bench.rs), each size on a fresh page.
Run: python3 tests/browser/bench.py  (scripts/bench.sh runs it and the native benchmarks).
     python3 tests/browser/bench.py --core=10000,44125  (only kpx-core in the wasm, those sizes)
     python3 tests/browser/bench.py --core=10000 --cold  (… as a first visit: only a run's first row is cold)
     python3 tests/browser/bench.py --browser  (only the page: load, edits, typing, pastes, frames)
     python3 tests/browser/bench.py --browser --no-paste  (… without the large pastes)
     python3 tests/browser/bench.py --paste=10000 [--kubectl]  (only pasting those, terse or as kubectl prints them)
     python3 tests/browser/bench.py --ab=DIR [--mode=nftables|ipvs] [--kubectl]  (typing at 1,000 Services, or into 400 as kubectl prints them: the build in DIR and dist/, alternately)
     python3 tests/browser/bench.py --smoke  (a quick pass for CI: small sizes, few edits)
"""
import functools
import http.server
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # the test runner's WebDriver client

SMOKE = "--smoke" in sys.argv
EDITS = 6 if SMOKE else int(os.environ.get("KPX_EDITS", 40))
# (Services × 10 endpoints, mode, view, also time the page's annotated lines)
CORE_SIZES = [(100, "iptables", "restore", True)] if SMOKE else [
    (services, mode, view, mode == "iptables" and services <= 10000)
    for services in (10, 100, 1000, 10000, 44125)
    for mode, view in (("iptables", "restore"), ("nftables", "nft"), ("ipvs", "ipvsadm"))
]
CONNECTIONS = 10_000 if SMOKE else 1_000_000
# Generated clusters pasted into the editor, the whole way through the page (`--paste=10000`:
# only those).
PASTE_ONLY = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--paste=")), None)
# `--kubectl`: each cluster pasted as `kubectl get svc,endpointslices -A -o yaml` prints it
# (one List, every field the API server fills: five times the bytes), not in kpx's terse form.
# (Services, as kubectl prints them?) pasted; the whole run pastes 10,000 both ways.
KUBECTL = "--kubectl" in sys.argv
PASTES = ([(int(n), KUBECTL) for n in PASTE_ONLY.split(",")] if PASTE_ONLY else []
          if SMOKE or "--no-paste" in sys.argv else [(10000, False), (44125, False), (10000, True)])
# `--core 10000,44125`: only kpx-core in the wasm, at those sizes (while working on one stage).
CORE_ONLY = next((a for a in sys.argv[1:] if a.startswith("--core")), None)
if CORE_ONLY and "=" in CORE_ONLY:
    wanted = {int(n) for n in CORE_ONLY.split("=", 1)[1].split(",")}
    CORE_SIZES = [c for c in CORE_SIZES if c[0] in wanted]


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


# Replaces the port in the editor and measures until the new rules are in the DOM: the end of
# the page's next `kpx:draw` measure (in the input's own task for a small text; after the
# typing pause for a large one, see web/src/typing.rs). Painting follows in the next frame.
EDIT = """
const done = arguments[arguments.length - 1];
const [from, to] = arguments;
const e = document.querySelector('#editor');
const t0 = performance.now();
e.value = e.value.replace(from, to);
e.dispatchEvent(new InputEvent('input', {bubbles: true}));
const drawn = () => {
  const m = performance.getEntriesByName('kpx:draw').find(m => m.startTime >= t0);
  if (m) done(m.startTime + m.duration - t0); else setTimeout(drawn, 1);
};
setTimeout(drawn, 0);
"""

# Typing as a reader types: a burst of keys 80 ms apart (a digit in, then out again) at the
# position of `at`; Event Timing gives each key's time from the key to the next paint (entries
# under 16 ms are not reported and count as 16).
TYPING_OBSERVER = """
window.__keys = [];
new PerformanceObserver(l => l.getEntries().forEach(e => { if (e.name === 'keydown') window.__keys.push(e.duration); }))
  .observe({type: 'event', durationThreshold: 16});
"""


def typing(d, at, keys=11):
    run.caret_after(d, at)
    d.js(TYPING_OBSERVER)
    actions = []
    for k in range(keys):
        key = "1" if k % 2 == 0 else "\ue003"  # a digit, then Backspace
        actions += [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}, {"type": "pause", "duration": 80}]
    d.s("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions": actions}]})
    time.sleep(1.5)
    seen = d.js("return window.__keys")
    return seen + [16.0] * (keys - len(seen))

# A key typed as a reader types it (WebDriver key actions), timed from its keydown event to the
# end of the page's next `kpx:draw` measure (the new rules in the DOM). Unlike EDIT, no script
# sets the textarea's value: at 1,000 Services setting 900 KB of value alone costs 200–300 ms
# that a typing reader never pays.
KEY_DRAWN = """
const t = window.__keyAt;
const m = t == null ? null : performance.getEntriesByName('kpx:draw').find(m => m.startTime >= t);
return m ? m.startTime + m.duration - t : null;
"""


def key_edits(d, at, edits):
    run.caret_after(d, at)
    times = []
    for k in range(edits):
        key = "1" if k % 2 == 0 else "\ue003"  # a digit, then Backspace
        d.js("window.__keyAt = null; document.querySelector('#editor').addEventListener('keydown', e => { window.__keyAt = e.timeStamp; }, {once: true})")
        d.s("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions": [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}]})
        times.append(d.wait_for("the key's rules", lambda: d.js(KEY_DRAWN), timeout=60))
        time.sleep(0.1)
    return times


def put_text(d, text):
    """Puts `text` into the editor in one input event, as a script (or a paste the page lets
    through) would: unlike `run.set_text`, no keys select the old text first."""
    d.js("const e = document.querySelector('#editor'); e.value = arguments[0]; e.dispatchEvent(new InputEvent('input', {bubbles: true}));", text)


LONG_TASKS = """
window.__long = [];
new PerformanceObserver(l => l.getEntries().forEach(e => window.__long.push(e.duration))).observe({type: 'longtask', buffered: true});
"""


def big_scenario(services):
    y = ["apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nhostnameOverride: node-a\nclusterCIDR: 10.244.0.0/16\n"]
    for s in range(services):
        y.append(f"---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc{s}, namespace: bench}}\nspec:\n  clusterIP: 10.96.{s // 250}.{s % 250 + 2}\n  ports:\n  - {{name: http, port: 80}}\n")
        y.append(f"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: svc{s}-1\n  namespace: bench\n  labels: {{kubernetes.io/service-name: svc{s}}}\naddressType: IPv4\nports: [{{name: http, port: 8080}}]\nendpoints:\n")
        for e in range(10):
            n = s * 10 + e
            # (Three base-250 digits: valid addresses for up to 44,000 Services of 10.)
            y.append(f"- {{addresses: [10.{245 + n // 62500}.{n // 250 % 250}.{n % 250 + 2}]}}\n")
    return "".join(y)


def edit_latencies(d, a, b):
    times = []
    for i in range(EDITS):
        frm, to = (a, b) if i % 2 == 0 else (b, a)
        times.append(d.js_async(EDIT, frm, to))
    return times


def core_split(d, what):
    """The edit's time inside kpx-core (parse + cluster; views), from the page's User Timing:
    per edit (a `kpx:analysed` mark each), since a large text's edit measures each task's
    part of each step (web/src/typing.rs)."""
    out = []
    edits = d.js("return performance.getEntriesByName('kpx:analysed').length")
    # A large text is read in parts of about 40 ms (a `kpx:read` measure each): per edit, the
    # parts' sum, and how many there were.
    reads = d.js("return performance.getEntriesByName('kpx:read').map(e => e.duration)")
    if reads and edits:
        out.append((f"  of which parse, {what} (per edit, in {len(reads) / edits:.1f} tasks; longest task's)",
                    f"{sum(reads) / edits:.1f} ms; {max(reads):.1f} ms", "User Timing in the page"))
    for name, label in [("kpx:analyze", "cluster"), ("kpx:build", "dataplane (a large text's edit)"),
                        ("kpx:views", "views (with the dataplane, for a small text)"),
                        ("kpx:diff", "the edit's changes (diff)"), ("kpx:link", "the link (DEFLATE)")]:
        v = d.js(f"return performance.getEntriesByName('{name}').map(e => e.duration)")
        if v and edits:
            out.append((f"  of which {label}, {what} (mean per edit; longest task's)",
                        f"{sum(v) / edits:.1f} ms; {max(v):.1f} ms", "User Timing in the page"))
    v = d.js("return performance.getEntriesByName('kpx:draw').map(e => e.duration)")
    if v:
        out.append((f"  of which drawing (Yew, whole page), {what} (p50)", f"{percentile(v, 50):.1f} ms", "User Timing in the page"))
    return out


def main():
    http_port, driver_port = run.free_ports(2)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", http_port), functools.partial(run.Quiet, directory=run.DIST))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    chromedriver = run.start_chromedriver(driver_port)
    site = f"http://127.0.0.1:{http_port}/index.html"
    rows = []
    try:
        d = run.Driver(driver_port)
        try:
            # Load: navigation start to the article's rules on screen (median of 5 fresh loads).
            loads = []
            for _ in range(5):
                d.get(site + "?scenario=article")
                d.wait_for("rules", lambda: run.ARTICLE_LINE in run.output(d))
                loads.append(d.js("return performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"))
                loads[-1] = d.js("""const m = performance.getEntriesByName('kpx:first-render');
                                     return m.length ? m[0].startTime : null""") or loads[-1]
            rows.append(("first render (article, localhost)", f"{percentile(loads, 50):.0f} ms", "goal < 500 ms"))
            if PASTE_ONLY:
                for services, kubectl in PASTES:
                    rows += paste(d, site, services, kubectl)
                return report(rows)
            if "--browser" not in sys.argv:
                rows += wasm_core(d, site)
            if CORE_ONLY:
                return report(rows)
            d.get(site + "?scenario=article")
            d.wait_for("rules", lambda: run.ARTICLE_LINE in run.output(d))
            d.js("performance.clearMeasures()")
            t = edit_latencies(d, "port: 8080, targetPort: 80", "port: 8081, targetPort: 80")
            rows.append(("edit → render, article (p50 / p95)", f"{percentile(t, 50):.1f} / {percentile(t, 95):.1f} ms", "goal p95 < 8 ms"))
            rows += core_split(d, "article")
            k = key_edits(d, "port: 8080, targetPort: ", EDITS)
            rows.append(("key → new rules in the DOM, article (p50 / p95)", f"{percentile(k, 50):.1f} / {percentile(k, 95):.1f} ms", "typed keys (no script sets the text)"))
            k = typing(d, "port: 8080, targetPort: ")
            rows.append(("typing in the article: key → next paint (p50 / max)", f"{percentile(k, 50):.0f} / {max(k):.0f} ms", "Event Timing, 11 keys 80 ms apart"))
            if SMOKE:
                return report(rows)
            # 1,000 Services × 10 endpoints.
            d.js(LONG_TASKS)
            put_text(d, big_scenario(1000))
            d.wait_for("the big view", lambda: "svc999" in run.editor_text(d), timeout=120)
            time.sleep(1)
            run.caret_after(d, "name: svc500, namespace: bench}")
            d.js("window.__long = []; performance.clearMeasures()")
            t = edit_latencies(d, "name: svc500, namespace: bench}\nspec:\n  clusterIP: 10.96.2.2\n  ports:\n  - {name: http, port: 80}",
                               "name: svc500, namespace: bench}\nspec:\n  clusterIP: 10.96.2.2\n  ports:\n  - {name: http, port: 81}")
            longest = max(d.js("return window.__long") or [0])
            rows.append(("edit → render, 1,000 Services × 10 (p50 / p95)", f"{percentile(t, 50):.0f} / {percentile(t, 95):.0f} ms", "goal < 50 ms"))
            rows.append(("longest main-thread task while editing it", f"{longest:.0f} ms", "goal < 100 ms"))
            rows += core_split(d, "1,000 Services")
            k = key_edits(d, BIG_KEY_AT, min(EDITS, 20))
            rows.append(("key → new rules in the DOM, 1,000 Services × 10 (p50 / p95)", f"{percentile(k, 50):.0f} / {percentile(k, 95):.0f} ms", "goal < 50 ms; typed keys"))
            d.js("window.__long = []")
            k = typing(d, BIG_KEY_AT)
            time.sleep(2)
            longest = max(d.js("return window.__long") or [0])
            rows.append(("typing at 1,000 Services: key → next paint (p50 / max)", f"{percentile(k, 50):.0f} / {max(k):.0f} ms", "Event Timing, 11 keys 80 ms apart; each edit in steps, dropped at the next key"))
            rows.append(("longest main-thread task while typing there", f"{longest:.0f} ms", "goal < 100 ms"))
            # The same keys in the other modes (each its first view: `nft`, `ipvsadm`).
            # (Drawn once its first view's tab is chosen, the page is not busy and it has drawn
            # since: the view keeps the place the typing scrolled to, so its first line, which
            # MODE_SHOWN looks for, is not among the lines in the DOM.)
            for mode in ("nftables", "ipvs"):
                t0 = d.js("return performance.now()")
                run.choose(d, "#mode", mode)
                d.wait_for(f"1,000 Services in {mode} mode", lambda: d.js(SHOWN_SINCE, FIRST_VIEW[mode], t0), timeout=120)
                time.sleep(2)
                d.js("performance.clearMeasures(); performance.clearMarks('kpx:analysed')")
                k = key_edits(d, BIG_KEY_AT, min(EDITS, 20))
                rows.append((f"key → new rules in the DOM, 1,000 Services × 10, {mode} mode (p50 / p95)", f"{percentile(k, 50):.0f} / {percentile(k, 95):.0f} ms", "goal < 50 ms; typed keys"))
                rows += core_split(d, f"a key in {mode} mode")
            # Typing into a List as kubectl prints it (its items read again one at a time).
            d.get(site + "?scenario=article")
            d.wait_for("rules", lambda: run.ARTICLE_LINE in run.output(d))
            at = kubectl_typed(d)
            time.sleep(2)
            d.js("performance.clearMeasures(); performance.clearMarks('kpx:analysed')")
            k = key_edits(d, at, min(EDITS, 20))
            rows.append((f"key → new rules in the DOM, {KUBECTL_TYPED} Services × 10 as kubectl prints them (p50 / p95)", f"{percentile(k, 50):.0f} / {percentile(k, 95):.0f} ms", "typed keys; 1.7 MB, one List"))
            rows += core_split(d, "a key in the List")
            # Large pastes, the whole way through the page.
            for services, kubectl in PASTES:
                rows += paste(d, site, services, kubectl)
            # The packet walk: frame deltas while it plays at 4×, on the article.
            d.get(site + "?scenario=article&panel=packet")
            d.wait_for("the walk", lambda: d.js("return !!document.querySelector('#card-0')"))
            choose = "const s = document.querySelector('#walk-speed'); s.value = '400'; s.dispatchEvent(new Event('change', {bubbles: true}));"
            d.js(choose)
            deltas = d.js_async("""const done = arguments[arguments.length - 1];
                const out = []; let last = performance.now();
                document.querySelector('#walk-play').click();
                function f(t) { out.push(t - last); last = t; if (out.length < 240) requestAnimationFrame(f); else done(out); }
                requestAnimationFrame(f);""")
            rows.append(("frame delta while the packet plays (p50 / p95 / max)",
                         f"{percentile(deltas, 50):.1f} / {percentile(deltas, 95):.1f} / {max(deltas):.1f} ms", "60 fps = 16.7 ms"))
            steps = d.js_async("""const done = arguments[arguments.length - 1];
                const b = document.querySelector('#walk-new'); const out = []; let i = 0;
                function go() { const t0 = performance.now(); b.click();
                  requestAnimationFrame(() => { out.push(performance.now() - t0); if (++i < 20) go(); else done(out); }); }
                go();""")
            rows.append(("new connection: walk two packets and redraw (p50)", f"{percentile(steps, 50):.1f} ms", "goal: one trace < 1 ms"))
        finally:
            d.quit()
    finally:
        chromedriver.terminate()
        server.shutdown()
    report(rows)


def report(rows):
    width = max(len(r[0]) for r in rows)
    for name, value, goal in rows:
        print(f"{name:<{width}}  {value:>22}  {goal}")


def generate(d, site, services, mode, view, lines):
    """One run of the generate hook on a fresh page: its JSON, or 'failed: …'."""
    d.get(site + "?scenario=article")
    d.wait_for("the hooks", lambda: d.js("return !!(window.wasmBindings && window.wasmBindings.kpxBenchGenerate)"))
    # Started from a timer and polled: the largest runs outlast WebDriver's script timeout.
    d.js(f"""window.__r = null; setTimeout(() => {{
               try {{ window.__r = window.wasmBindings.kpxBenchGenerate({services}, 10, '{mode}', '{view}', {str(lines).lower()}); }}
               catch (e) {{ window.__r = 'failed: ' + e; }} }}, 0)""")
    return d.wait_for(f"{services} Services", lambda: d.js("return window.__r"), timeout=900)


PASTE = """
const done = r => { window.__paste = r; };
window.__paste = null; window.__long = [];
new PerformanceObserver(l => l.getEntries().forEach(e => window.__long.push([e.startTime, e.duration]))).observe({type: 'longtask'});
const text = window.wasmBindings.kpxBenchText(arguments[0], 10, 'iptables', arguments[1]);
performance.clearMeasures();
const e = document.querySelector('#editor');
e.focus(); e.select();
const t0 = performance.now();
// As a reader pastes: the page may take the text from the clipboard (a huge one, editor.rs);
// if it does not, the text box takes it, as the browser would.
const data = new DataTransfer(); data.setData('text/plain', text);
const paste = new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true});
if (e.dispatchEvent(paste)) {
  e.value = text;
  e.dispatchEvent(new InputEvent('input', {bubbles: true}));
}
const set = performance.now() - t0;
const drawn = () => {
  const m = performance.getEntriesByName('kpx:draw').find(m => m.startTime >= t0);
  if (!m) return setTimeout(drawn, 20);
  const d = n => performance.getEntriesByName(n).map(m => m.duration);
  // Each long task with the page's measures inside it: which steps it ran.
  const long = () => window.__long.map(([start, duration]) => {
    const inside = {};
    for (const m of performance.getEntriesByType('measure'))
      if (m.startTime >= start && m.startTime < start + duration)
        inside[m.name.slice(4)] = (inside[m.name.slice(4)] || 0) + m.duration;
    return {duration, at: start - t0, inside};
  });
  setTimeout(() => done(JSON.stringify({total: m.startTime + m.duration - t0, set, reads: d('kpx:read'),
    bytes: text.length, heap: window.wasmBindings.kpxBenchMemory(),
    analyze: d('kpx:analyze'), build: d('kpx:build'), views: d('kpx:views'), diff: d('kpx:diff'), link: d('kpx:link'), draw: m.duration,
    long: long()})), 500);
};
setTimeout(drawn, 0);
"""


def paste(d, site, services, kubectl):
    """A generated cluster pasted into the editor, as a reader would: from the input event to
    its rules drawn, the longest tasks on the way, and each step's own time."""
    d.get(site + "?scenario=article")
    d.wait_for("the hooks", lambda: d.js("return !!(window.wasmBindings && window.wasmBindings.kpxBenchText)"))
    d.js(PASTE, services, kubectl)  # polled: the largest outlast WebDriver's script timeout
    r = json.loads(d.wait_for(f"{services} Services pasted", lambda: d.js("return window.__paste"), timeout=900))
    long = r["long"]
    steps = " / ".join(f"{sum(r[k]):.0f}" for k in ("analyze", "build", "views", "diff", "link")) + f" / {r['draw']:.0f}"
    shape = "as kubectl prints them" if kubectl else "terse"
    return [(f"paste {services:,} Services × 10 ({shape}) → rules drawn (iptables)", f"{r['total'] / 1000:.1f} s",
             f"{r['bytes'] / 1e6:.1f} MB; the paste event {r['set']:.0f} ms; read in {len(r['reads'])} parts of ≤ {max(r['reads']):.0f} ms "
             f"({sum(r['reads']):.0f} ms); cluster / dataplane / views / diff / link / drawing {steps} ms; "
             f"heap {r['heap'] / 2**20:.0f} MiB"),
            (f"  longest tasks while it ran", long_tasks(long),
             f"{len(long)} tasks over 50 ms; goal: none over 100 ms")] + reload(d, services) + views_chosen(d, services)


# Registered before the page's own scripts run (a reload's long tasks start with the page).
# (Each long task with its start, so that a reload's tasks can be told apart; `LONG_TASKS`
# above keeps the durations alone.)
LONG_TASKS_AT = "window.__long = []; new PerformanceObserver(l => l.getEntries().forEach(e => window.__long.push([e.startTime, e.duration]))).observe({type: 'longtask'});"

RELOADED = """
const d = n => performance.getEntriesByName(n);
if (!d('kpx:views').length) return null;  // not analysed yet
// The drawing of the analysed work: the first after its last view or diff was made.
const made = Math.max(...['kpx:views', 'kpx:diff'].flatMap(n => d(n).map(m => m.startTime)));
const m = d('kpx:draw').find(m => m.startTime > made);
if (!m) return null;
const long = (window.__long || []).map(([start, duration]) => {
  const inside = {};
  for (const e of performance.getEntriesByType('measure'))
    if (e.startTime >= start && e.startTime < start + duration)
      inside[e.name.slice(4)] = (inside[e.name.slice(4)] || 0) + e.duration;
  return {duration, at: start, inside};
});
const sums = {};
for (const n of ['open', 'read', 'analyze', 'build', 'views', 'diff', 'link', 'keep'])
  sums[n] = [d('kpx:' + n).length, d('kpx:' + n).reduce((s, m) => s + m.duration, 0)];
return JSON.stringify({total: m.startTime + m.duration, first: d('kpx:draw')[0].startTime + d('kpx:draw')[0].duration, long, sums});
"""


def long_tasks(tasks):
    """The longest tasks, as "216 at 2.1 s (draw 200, link 150)": a task's own steps and when
    it began (a task without measures is the browser's own, or Yew's)."""
    def task(t):
        inside = ", ".join(f"{k} {v:.0f}" for k, v in sorted(t["inside"].items(), key=lambda kv: -kv[1]) if v >= 5)
        return f"{t['duration']:.0f} at {t['at'] / 1000:.1f} s" + (f" ({inside})" if inside else "")
    return ", ".join(task(t) for t in sorted(tasks, key=lambda t: -t["duration"])[:6]) + " ms"


def reload(d, services):
    """The pasted work reopened, as a reader's reload (or next visit) opens it: from the
    navigation to its rules drawn, and the longest tasks on the way."""
    saved = lambda: d.js("return (localStorage.getItem('kpx.state') || '').length")
    d.wait_for("the work kept", lambda: saved() > 100_000, timeout=300)
    script = d.cdp("Page.addScriptToEvaluateOnNewDocument", {"source": LONG_TASKS_AT})
    try:
        d.js("location.reload()")
        time.sleep(1)
        r = d.wait_for(f"{services} Services reopened", lambda: d.js(RELOADED), timeout=900)
        time.sleep(1)  # the tasks after the drawing: the link kept again
        r = json.loads(d.js(RELOADED))
    finally:
        d.cdp("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
    long = r["long"]
    return [(f"reload with {services:,} Services kept → rules drawn", f"{r['total'] / 1000:.1f} s",
             f"first drawing (saying it is busy) at {r['first']:.0f} ms; "
             + ", ".join(f"{k} {v[1]:.0f} ms in {v[0]} tasks" for k, v in r["sums"].items())),
            ("  longest tasks while it ran", long_tasks(long),
             f"{len(long)} tasks over 50 ms; goal: none over 100 ms")]


# The drawings of `view` since `t0` (none until its tab is selected and the page is no longer
# busy: a large text's views are made in steps, web/src/typing.rs `choose_in_steps`).
DRAWN_SINCE = """
const [view, t0] = arguments;
const tab = document.querySelector('#output').closest('.pane').querySelector('.tab[aria-selected=true]');
const shown = !!tab && tab.dataset.view === view && !document.querySelector('#busy').classList.contains('waiting');
const drawn = shown ? performance.getEntriesByName('kpx:draw').filter(m => m.startTime > t0) : [];
"""

# A view shown since `t0`: drawn since, its tab selected and the page not busy.
SHOWN_SINCE = DRAWN_SINCE + "return drawn.length > 0;"

# A view chosen at `t0`: from the click to its last drawing, and the long tasks on the way.
CHOSEN = DRAWN_SINCE + """
if (!drawn.length) return null;
const last = drawn[drawn.length - 1];
// (Tasks that end after the click: the click itself runs in the task that started before t0.)
const long = (window.__long || []).filter(([start, duration]) => start + duration > t0).map(([start, duration]) => {
  const inside = {};
  for (const e of performance.getEntriesByType('measure'))
    if (e.startTime >= start && e.startTime < start + duration)
      inside[e.name.slice(4)] = (inside[e.name.slice(4)] || 0) + e.duration;
  return {duration, at: start - t0, inside};
});
return JSON.stringify({total: last.startTime + last.duration - t0, long});
"""


def views_chosen(d, services):
    """Views chosen in turn over the reopened work, as a reader clicks their tabs (iptables'
    and kubectl get ep), then each other mode and its other views: from the click to the view
    drawn, and the longest tasks on the way."""
    def chosen(label, click, value, view):
        """`click` (a script given `value`) chooses; `view` is the tab then drawn."""
        t0 = d.js(f"const t0 = performance.now(); {click} return t0;", value)
        time.sleep(0.5)
        r = json.loads(d.wait_for(label, lambda: d.js(CHOSEN, view, t0), timeout=900))
        long = [t for t in r["long"] if t["duration"] > 50]
        return (f"  {label} chosen → drawn", f"{r['total'] / 1000:.1f} s",
                f"longest tasks {long_tasks(long) if long else 'none over 50 ms'}; goal: none over 100 ms")
    tab = "document.querySelector('#output').closest('.pane').querySelector(`.tab[data-view='${arguments[0]}']`).click();"
    mode = ("const s = document.querySelector('#mode'); s.value = arguments[0];"
            "s.dispatchEvent(new Event('change', {bubbles: true}));")
    # Each other mode is shown in its first view (its dataplane built first), then its other
    # views are chosen.
    rows = [chosen(f"the {view} view", tab, view, view) for view in ("restore", "list", "save", "get-ep")]
    for m, first, others in (("nftables", "nft-list", ("nft", "nft-load")), ("ipvs", "ipvsadm", ("ipset", "addr"))):
        rows.append(chosen(f"{m} mode (its {first} view)", mode, m, first))
        rows += [chosen(f"{m}'s {view} view", tab, view, view) for view in others]
    return rows


def wasm_core(d, site):
    """kpx-core in the wasm, through the page's hooks: each size on a fresh page, so the heap
    read afterwards is that run's high-water mark.

    Warm, unless `--cold`: Chromium first runs a wasm function from its baseline compiler and
    moves hot ones to its optimising compiler as they run, and it caches the optimised code for
    the next visit. A first run at 10,000 Services is a quarter slower than the same run after
    any earlier one, so the table starts after one unreported pass of each mode at 1,000 (as a
    returning reader's page would). `--cold` skips that pass, so a run's first row is a first
    visit (the article's page loads before it exercise little of kpx-core); later rows are
    warmed by the earlier ones: give one size."""
    rows = []
    if "--cold" not in sys.argv and not SMOKE:
        for mode, view in (("iptables", "restore"), ("nftables", "nft"), ("ipvs", "ipvsadm")):
            generate(d, site, 1000, mode, view, mode == "iptables")
    for services, mode, view, lines in CORE_SIZES:
        out = generate(d, site, services, mode, view, lines)
        if out.startswith("failed"):  # e.g. the wasm ran out of memory: report it, go on
            rows.append((f"wasm {services:,} × 10 {mode} {view}", "failed", out[:160]))
            continue
        r = json.loads(out)
        goal = ""
        if (services, mode) == (10000, "iptables"):
            goal = "goal: build + render < 300 ms; heap < 200 MB"
        elif services == 44125:
            goal = "kubernetes#139513's cluster; goal: on screen < 1 s"
        page = f", page lines {r['page_lines_ms']:.0f} ms" if lines else ""
        rows.append((f"wasm {services:,} × 10 {mode} {view}: parse / build + render",
                     f"{r['parse_ms']:.0f} / {r['build_render_ms']:.0f} ms", f"(build {r['build_ms']:.0f}) {r['yaml_bytes'] / 1e6:.1f} MB YAML → {r['output_bytes'] / 1e6:.1f} MB text{page}; heap {r['memory_bytes'] / 2**20:.0f} MiB (after parse {r['parse_memory_bytes'] / 2**20:.0f}, text {r['render_memory_bytes'] / 2**20:.0f}); {goal}"))
    d.get(site + "?scenario=article")
    d.wait_for("the hooks", lambda: d.js("return !!(window.wasmBindings && window.wasmBindings.kpxBenchPackets)"))
    d.js(f"window.__r = null; setTimeout(() => {{ window.__r = window.wasmBindings.kpxBenchPackets(1000, {CONNECTIONS}); }}, 0)")
    r = json.loads(d.wait_for("the packets", lambda: d.js("return window.__r"), timeout=900))
    rows.append(("wasm: one trace through the article (parsed once)", f"{r['trace_ms'] * 1000:.0f} µs", "goal < 1 ms"))
    rows.append((f"wasm: simulate {CONNECTIONS:,} connections (iptables)", f"{r['simulate_ms']:.0f} ms", "goal: 1,000,000 < 1 s"))
    return rows


# A line of each mode's first view of the 1,000-Service text (and of the article's).
MODE_SHOWN = {"iptables": "-A KUBE-SERVICES", "nftables": "table ip kube-proxy", "ipvs": "TCP  10."}
# Each other mode's first view (web/src/state.rs, default_view).
FIRST_VIEW = {"nftables": "nft-list", "ipvs": "ipvsadm"}

# Where the 1,000-Service benchmarks type: svc500's port.
BIG_KEY_AT = "name: svc500, namespace: bench}\nspec:\n  clusterIP: 10.96.2.2\n  ports:\n  - {name: http, port: 8"

# Typing into a cluster as kubectl prints it: this many Services × 10, 1.7 MB (the page edits
# texts up to 2 MiB; larger ones are shown read-only).
KUBECTL_TYPED = 400


def kubectl_typed(d):
    """Puts KUBECTL_TYPED Services × 10 as kubectl prints them (one List) into the editor;
    returns where to type: the middle Service's port."""
    text = d.js("return window.wasmBindings.kpxBenchText(arguments[0], 10, 'iptables', true)", KUBECTL_TYPED)
    put_text(d, text)
    d.wait_for("the List", lambda: f"name: svc{KUBECTL_TYPED - 1}\n" in run.editor_text(d), timeout=120)
    at = text.index(f"name: svc{KUBECTL_TYPED // 2}\n")
    return text[at:text.index("port: 8", at) + len("port: 8")]


def typing_at_1000(dist, mode=None, kubectl=False):
    """A fresh page of the site in `dist` with 1,000 Services × 10 (in `mode`, kube-proxy's
    default when None; `kubectl`: KUBECTL_TYPED Services as kubectl prints them instead): typed
    keys to their rules in the DOM (p50, p95), a key's next paint (p50, max) and the longest
    task while typing."""
    http_port, driver_port = run.free_ports(2)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", http_port), functools.partial(run.Quiet, directory=dist))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    chromedriver = run.start_chromedriver(driver_port)
    site = f"http://127.0.0.1:{http_port}/index.html"
    try:
        d = run.Driver(driver_port)
        try:
            d.get(site + "?scenario=article" + (f"&mode={mode}&view={FIRST_VIEW[mode]}" if mode else ""))
            d.wait_for("rules", lambda: MODE_SHOWN[mode or "iptables"] in run.output(d))
            d.js(LONG_TASKS)
            if kubectl:
                at = kubectl_typed(d)
            else:
                put_text(d, big_scenario(1000))
                d.wait_for("the big view", lambda: "svc999" in run.editor_text(d), timeout=120)
                at = BIG_KEY_AT
            time.sleep(2)
            since = d.js("return performance.now()")
            k = key_edits(d, at, 16)
            d.js("window.__long = []")
            t = typing(d, at)
            time.sleep(2)
            longest = max(d.js("return window.__long") or [0])
            return percentile(k, 50), percentile(k, 95), percentile(t, 50), max(t), longest, steps_since(d, since)
        finally:
            d.quit()
    finally:
        chromedriver.kill()
        server.shutdown()


STEPS = ["read", "analyze", "build", "views", "diff", "draw", "link"]


def steps_since(d, since):
    """The page's User Timing since `since`: each step's mean per edit analysed (ms)."""
    return d.js("""
const [since, names] = arguments;
const after = n => performance.getEntriesByName(n).filter(e => e.startTime >= since);
const edits = after('kpx:analysed').length || 1;
return names.map(n => after('kpx:' + n).reduce((a, e) => a + e.duration, 0) / edits);
""", since, STEPS)


def typing_ab(other, mode=None, kubectl=False, rounds=3):
    """`--ab=DIR [--mode=M] [--kubectl]`: typing at 1,000 Services (or into KUBECTL_TYPED as
    kubectl prints them) on another build of the site (DIR, say one made with `trunk build
    --release --dist DIR` at an older commit) and on dist/, alternately, so that both see the
    VM as it is."""
    for _ in range(rounds):
        for name, dist in (("other", other), ("dist", run.DIST)):
            k50, k95, t50, tmax, longest, steps = typing_at_1000(dist, mode, kubectl)
            split = ", ".join(f"{n} {v:.1f}" for n, v in zip(STEPS, steps))
            print(f"{name:6} key → rules in the DOM {k50:.0f} / {k95:.0f} ms; key → next paint {t50:.0f} / {tmax:.0f} ms; "
                  f"longest task while typing {longest:.0f} ms; per edit (User Timing, ms): {split}", flush=True)


if __name__ == "__main__":
    AB = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--ab=")), None)
    if AB:
        MODE = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--mode=")), None)
        sys.exit(typing_ab(AB, MODE, KUBECTL))
    sys.exit(main())
