// The demo relying party's page script: the list of logout tokens received, refreshed every two
// seconds from /demo/state (same origin, no third-party code), and the page reloaded when an
// application's sign-in state changes (a back-channel logout signs it out).
"use strict";

// The applications signed in as the page was rendered: when /demo/state says otherwise (a
// back-channel logout signed one out), the page is rendered again.
const shown = document.querySelector("main").dataset.signedIn;

function text(tag, content, className) {
  const el = document.createElement(tag);
  el.textContent = content;
  if (className) el.className = className;
  return el;
}

function render(tokens) {
  const list = document.getElementById("tokens");
  list.replaceChildren();
  for (const t of tokens) {
    const item = document.createElement("li");
    item.className = t.verdict;
    const head = text("p", `${t.received} · ${t.app} · ${t.verdict}${t.reason ? ` (${t.reason})` : ""}`);
    head.appendChild(text("span", ` cause ${t.claims?.cause ?? "?"}, sid ${t.claims?.sid ?? "(none)"}`, "detail"));
    item.appendChild(head);
    item.appendChild(text("pre", JSON.stringify(t.claims, null, 2)));
    if (t.audit.length) {
      const audit = document.createElement("ul");
      audit.className = "audit";
      for (const e of t.audit) audit.appendChild(text("li", `${e.timestamp} ${e.eventName}: ${e.operation}`));
      item.appendChild(audit);
    }
    list.appendChild(item);
  }
  document.getElementById("none").hidden = tokens.length > 0;
}

async function refresh() {
  try {
    const r = await fetch("/demo/state", { credentials: "same-origin", cache: "no-store" });
    if (!r.ok) return;
    const state = await r.json();
    const signedIn = Object.keys(state.apps).filter((a) => state.apps[a] !== null).join(" ");
    if (signedIn !== shown) {
      location.reload();
      return;
    }
    render(state.received);
  } catch {
    // The provider is restarting: try again at the next tick.
  }
}

refresh();
setInterval(refresh, 2000);
