/* kpx embed loader: put kpx into a docs page.
 *
 *   <div data-kpx data-scenario="article" data-view="save"></div>
 *   <script src="https://YOUR-HOST/kpx/embed.js" async></script>
 *
 * turns each `[data-kpx]` element into an iframe of kpx's embed view (the data-* attributes
 * become its address parameters: scenario, state, mode, view, compare, panel, from, to, step,
 * editor, readonly, lang, theme, presenter) and keeps every kpx iframe on the page as tall as
 * its content (kpx posts its height). An iframe written directly in the page,
 *
 *   <iframe data-kpx src="https://YOUR-HOST/kpx/index.html?embed=1&scenario=article"
 *           style="width:100%;height:480px;border:0" title="kpx"></iframe>
 *
 * works without this script (at its fixed height) and is resized when the script runs.
 * No request goes anywhere but the kpx host; nothing is stored.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL(".", script ? script.src : location.href);
  var PARAMS = ["scenario", "mode", "view", "compare", "panel", "from", "to", "step", "editor",
    "readonly", "lang", "theme", "presenter"];

  function build(el) {
    if (el.tagName === "IFRAME" || el.getAttribute("data-kpx-ready")) return;
    el.setAttribute("data-kpx-ready", "1");
    var params = new URLSearchParams({ embed: "1" });
    PARAMS.forEach(function (name) {
      var value = el.getAttribute("data-" + name);
      if (value !== null) params.set(name, value);
    });
    var state = el.getAttribute("data-state");
    var frame = document.createElement("iframe");
    frame.src = new URL("index.html?" + params.toString() + (state ? "#" + state : ""), base).href;
    frame.title = el.getAttribute("data-title") || "kpx: how a Kubernetes Service works on a node";
    frame.setAttribute("data-kpx", "");
    frame.loading = "lazy";
    frame.style.width = "100%";
    frame.style.border = "0";
    frame.style.height = (parseInt(el.getAttribute("data-height"), 10) || 520) + "px";
    el.replaceChildren(frame);
  }

  function all() {
    document.querySelectorAll("[data-kpx]").forEach(build);
  }

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || data.type !== "kpx:height" || typeof data.height !== "number") return;
    document.querySelectorAll("iframe[data-kpx]").forEach(function (frame) {
      if (frame.contentWindow === event.source) {
        frame.style.height = Math.min(Math.max(Math.ceil(data.height), 120), 4000) + "px";
      }
    });
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all);
  else all();
})();
