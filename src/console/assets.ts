/**
 * The console's only script and stylesheet, served from /static/ (the CSP allows scripts
 * and styles from the console's own origin only: nothing inline). Kept here as strings so
 * that `tsc` ships them in dist/ with no copy step.
 *
 * The script is progressive enhancement: without it every page works (reload to see
 * changes; forms post and redirect). With it, the page listens to /events and, on each
 * change, fetches itself and swaps in the new `main#live`, keeping a deny reason the
 * person is typing. It reads no data from the events: the server renders everything.
 */
export const CONSOLE_JS = `"use strict";
(function () {
  var body = document.body;
  var page = body.getAttribute("data-page");
  var badge = document.getElementById("live-status");
  if (!page || !badge || !("EventSource" in window)) return;
  var busy = false;
  var again = false;
  var source;
  function show(state, text) {
    badge.setAttribute("data-state", state);
    badge.textContent = text;
  }
  function typedReasons() {
    var kept = [];
    document.querySelectorAll("#live [data-keep]").forEach(function (box) {
      var input = box.querySelector("input[name=reason]");
      if (!input) return;
      var focused = document.activeElement === input;
      if (focused || input.value !== "") kept.push({ key: box.getAttribute("data-keep"), value: input.value, focused: focused });
    });
    return kept;
  }
  function restore(kept) {
    kept.forEach(function (k) {
      document.querySelectorAll("#live [data-keep]").forEach(function (box) {
        if (box.getAttribute("data-keep") !== k.key) return;
        var input = box.querySelector("input[name=reason]");
        if (!input) return;
        input.value = k.value;
        if (k.focused) input.focus();
      });
    });
  }
  function swap(text) {
    var next = new DOMParser().parseFromString(text, "text/html").getElementById("live");
    var current = document.getElementById("live");
    if (!next || !current) return;
    var kept = typedReasons();
    current.replaceWith(document.adoptNode(next));
    restore(kept);
    body.setAttribute("data-updated", String(Date.now()));
  }
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(page, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (res) {
        if (res.status === 401) { show("error", "logged out: open the URL steward console printed"); source.close(); return; }
        return res.text().then(swap);
      })
      .catch(function () { show("reconnecting", "reconnecting…"); })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }
  source = new EventSource("/events?page=" + encodeURIComponent(page));
  source.addEventListener("open", function () { show("live", "live"); });
  source.addEventListener("error", function () { show("reconnecting", "reconnecting…"); });
  source.addEventListener("change", refresh);
})();
`;

export const CONSOLE_CSS = `:root { --fg: #1d2125; --quiet: #667085; --line: #d0d5dd; --bg: #fff; --panel: #f6f7f9;
  --good: #17803d; --bad: #c0262d; --ask: #b25e09; --busy: #1f5fbf; --unknown: #6b7280; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1.2rem; align-items: center; padding: .6rem 1.2rem; background: #101828; color: #f2f4f7; }
header a { color: #fff; }
.brand { font-weight: 700; font-size: 16px; text-decoration: none; }
.who strong { color: #fff; }
.live { margin-left: auto; font-size: 12px; padding: .1rem .5rem; border-radius: 1rem; background: #344054; }
.live[data-state=live] { background: var(--good); }
.live[data-state=reconnecting], .live[data-state=error] { background: var(--bad); }
main { padding: 1rem 1.2rem 2rem; max-width: 1200px; }
h1 { font-size: 20px; margin: .2rem 0 .6rem; }
h2 { font-size: 16px; margin: 1.4rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 14px; margin: 1rem 0 .3rem; }
h4 { font-size: 13px; margin: .6rem 0 .2rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--quiet); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code { background: var(--panel); padding: 0 .25rem; border-radius: 3px; overflow-wrap: anywhere; }
pre { background: #0d1117; color: #e6edf3; padding: .6rem .8rem; border-radius: 6px; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
pre.logs { max-height: 22rem; }
pre.output { max-height: 16rem; margin: .3rem 0 0; }
.quiet { color: var(--quiet); }
.good { color: var(--good); } .bad { color: var(--bad); }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 1rem; font-size: 12px; font-weight: 600; color: #fff; background: var(--unknown); }
.badge.good { background: var(--good); color: #fff; } .badge.bad { background: var(--bad); color: #fff; }
.badge.ask { background: var(--ask); } .badge.busy { background: var(--busy); } .badge.unknown { background: var(--unknown); }
.notice { margin: .8rem 1.2rem 0; padding: .6rem .9rem; border-radius: 6px; border: 1px solid; max-width: 1200px; }
.notice.error { border-color: var(--bad); background: #fdecec; color: #7a1016; }
.notice.ok { border-color: var(--good); background: #e9f7ef; color: #0b4d24; }
.awaiting { border: 2px solid var(--ask); background: #fff7ed; border-radius: 8px; padding: .2rem 1rem .8rem; margin: .8rem 0; }
.awaiting h2 { border: 0; color: var(--ask); }
.decide { display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
.decide form { display: flex; gap: .5rem; align-items: center; margin: 0; }
.decide input[type=text] { width: 22rem; padding: .3rem .4rem; border: 1px solid var(--line); border-radius: 4px; }
button { font: inherit; font-weight: 600; padding: .35rem 1rem; border-radius: 6px; border: 0; color: #fff; cursor: pointer; }
button.approve { background: var(--good); } button.deny { background: var(--bad); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: .6rem 0; }
dl.facts dt { color: var(--quiet); } dl.facts dd { margin: 0; }
.timeline { list-style: none; padding: 0; margin: 0; border-left: 2px solid var(--line); }
.step { display: flex; gap: .8rem; padding: .4rem 0 .4rem .8rem; position: relative; }
.step::before { content: ""; position: absolute; left: -6px; top: .8rem; width: 10px; height: 10px; border-radius: 50%; background: var(--line); }
.step.call::before { background: var(--busy); } .step.reasoning::before { background: #7a5af8; }
.step.verification.good::before { background: var(--good); } .step.verification.bad::before { background: var(--bad); }
.step time { color: var(--quiet); font-variant-numeric: tabular-nums; min-width: 4.5rem; }
.step .body { flex: 1; min-width: 0; }
.label { font-size: 11px; text-transform: uppercase; letter-spacing: .04em; color: var(--quiet); margin-right: .3rem; }
.model-text { white-space: pre-wrap; margin: .1rem 0; overflow-wrap: anywhere; }
.policy, .approval, .change, .result { margin-top: .2rem; }
.chart svg { width: 100%; max-width: 760px; height: auto; font-size: 11px; fill: var(--quiet); }
.chart .axis { stroke: var(--line); }
.chart .span-remediation { fill: #f79009; opacity: .75; } .chart .span-drift { fill: var(--bad); opacity: .8; }
.chart .tick-fix { fill: var(--busy); } .chart .bar-ok { fill: var(--good); } .chart .bar-bad { fill: var(--bad); }
.chart figcaption { color: var(--quiet); font-size: 12px; }
.phase-summary .badge { margin-right: .3rem; }
`;
