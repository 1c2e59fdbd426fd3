"""Driving a c2 view report in a real browser (selenium): open it, read its counts, change a filter.

Shared by tests/test_view_browser.py and benchmarks/bench_view.py.
"""

from __future__ import annotations

from pathlib import Path

from waiting import wait_until

# Change one filter control the way a person does (value, then its event) and time the handler, including the
# layout of what it drew (forced), then also the next frame.
CHANGE_FILTER = """
const done = arguments[arguments.length - 1];
const control = document.getElementById(arguments[0]);
const start = performance.now();
if (control.type === 'checkbox') control.checked = arguments[1]; else control.value = arguments[1];
control.dispatchEvent(new Event(control.type === 'search' ? 'input' : 'change'));
void document.body.offsetHeight;
const laidOut = performance.now() - start;
requestAnimationFrame(() => setTimeout(() => done([laidOut, performance.now() - start]), 0));
"""


def open_report(driver, path: Path, fragment: str = "", *, fresh: bool = True, timeout_s: float = 60) -> dict:
    """Open the report (at ``fragment``), wait until its first view is drawn; its timings (ms since navigation).

    A report not drawn within ``timeout_s`` fails with what its status line says."""
    driver.get(path.as_uri() + fragment)
    if fresh:  # labels of an earlier test must not carry over
        driver.execute_script("localStorage.clear()")
        driver.get("about:blank")
        driver.get(path.as_uri() + fragment)
    wait_until(lambda: driver.execute_script("return document.body.dataset.ready === '1'"), timeout_s=timeout_s,
               interval_s=0.02, failure=lambda: "the report was not drawn; its status line: " + repr(
                   driver.execute_script("return document.getElementById('status')?.textContent")))
    return driver.execute_script("return window.c2view.timings")


def counts(driver) -> tuple[int, int, int]:
    data = driver.execute_script("return Object.assign({}, document.getElementById('counts').dataset)")
    return int(data["items"]), int(data["paths"]), int(data["total"])


def change(driver, control: str, value) -> list[float]:
    return driver.execute_async_script(CHANGE_FILTER, control, value)


# Installed before a report's own script (Page.addScriptToEvaluateOnNewDocument): records what injected markup
# would do. window.__pwned: calls the hostile markup makes (and any alert); __violations: what the
# Content-Security-Policy blocked; __added: every element the page ever held, by tag (once each), and those with
# an event-handler attribute or that load something.
WATCH_FOR_INJECTION = """
window.__pwned = [];
window.__violations = [];
window.__added = { counts: {}, suspects: [] };
window.alert = (message) => { window.__pwned.push("alert " + message); };
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.effectiveDirective + ": " + event.sample);
});
const LOADERS = new Set(["img", "image", "iframe", "frame", "object", "embed", "base", "link", "audio", "video",
                         "source", "use", "form"]);
const seen = new WeakSet();
const note = (element) => {
  if (seen.has(element)) return;
  seen.add(element);
  const tag = element.localName;
  window.__added.counts[tag] = (window.__added.counts[tag] || 0) + 1;
  const handlers = element.getAttributeNames().filter((name) => name.toLowerCase().startsWith("on"));
  if (handlers.length || LOADERS.has(tag)) window.__added.suspects.push([tag, ...handlers].join(" "));
};
new MutationObserver((records) => {
  for (const record of records) {
    for (const node of record.addedNodes) {
      if (node.nodeType !== 1) continue;
      note(node);
      for (const inner of node.querySelectorAll("*")) note(inner);
    }
  }
}).observe(document, { childList: true, subtree: true });
"""

# Every view a report has: each item set, each page of the list, each item, each k of it. Returns all text shown
# on the way (the title, the text of everything but the scripts, tooltips), one view after another.
VISIT_EVERY_VIEW = """
const shown = [];
const look = () => {
  shown.push(document.title);
  for (const node of document.body.children) if (node.localName !== "script") shown.push(node.textContent);
  for (const node of document.querySelectorAll("[title]")) shown.push(node.getAttribute("title"));
};
const sets = document.getElementById("f-set");
for (const set of [...sets.options].map((option) => option.value)) {
  sets.value = set;
  sets.dispatchEvent(new Event("change"));
  for (let page = 0; page < 10000; page++) {
    for (const item of [...document.querySelectorAll("#list .entry[data-item]")].map((e) => e.dataset.item)) {
      document.querySelector('#list .entry[data-item="' + item + '"]').click();
      for (const k of [...document.querySelectorAll("#detail button[data-k]")].map((b) => b.dataset.k)) {
        document.querySelector('#detail button[data-k="' + k + '"]').click();
        look();
      }
    }
    const next = document.getElementById("b-next");
    if (!next || next.disabled) break;
    next.click();
  }
}
return shown.join("\\n");
"""


def visit_every_view(driver) -> str:
    """Walk every view of the open report (:data:`VISIT_EVERY_VIEW`); all the text it showed."""
    return driver.execute_script(VISIT_EVERY_VIEW)
