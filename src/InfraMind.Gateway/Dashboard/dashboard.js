// The gateway's dashboard: polls GET /inference/v1 (the document `infra mesh status` reads) every 2 s and redraws.
// Every value from the state is inserted as text (textContent, setAttribute), never as markup: model names, details
// and refusal reasons are strangers' strings. The page's Content-Security-Policy allows no inline script either.
"use strict";
(function () {
  const POLL_MS = 2000;
  const TIMEOUT_MS = 5000;
  // The most of each drawn per poll. A catalog of strangers' models (and a mesh of their nodes) can hold thousands;
  // redrawing them all every 2 s would freeze the page. The summary counts everything; the filter finds the rest,
  // and `infra mesh status --json` (or GET /inference/v1 itself) lists them all.
  const MAX_NODES = 500;
  const MAX_MODELS = 100;
  const MAX_FAILURES = 200;
  const $ = (id) => document.getElementById(id);
  const count = (n) => Number(n).toLocaleString("en-US");

  // The filter: a case-insensitive part of a name, kept in the page's address (?filter=) so a reload or a shared link
  // shows the same.
  let filter = new URLSearchParams(location.search).get("filter") || "";
  const matches = (name) => filter === "" || String(name).toLowerCase().includes(filter.toLowerCase());
  const quoted = () => "\u201c" + filter + "\u201d";

  /** Shows "Showing N of M …" under a section when not everything that matches is drawn. */
  function more(id, shown, total, what) {
    const e = $(id);
    e.hidden = shown >= total;
    e.textContent = e.hidden ? "" : "Showing " + count(shown) + " of " + count(total) + " " + what +
      (filter ? " whose name contains " + quoted() : "") + "; narrow the filter to see others (infra mesh status --json lists them all).";
  }

  /** The empty line of a section: nothing there, or nothing matching the filter. */
  function empty(id, drawn, all, none, noneMatching) {
    $(id).hidden = drawn > 0;
    $(id).textContent = all > 0 ? noneMatching + " " + quoted() + "." : none;
  }

  /** An element with fixed attributes and children; a string child becomes a text node. */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
    for (const c of children) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }
  const badge = (kind, text) => el("span", { class: "badge " + kind }, text);
  const cell = (label, ...content) => el("td", { "data-label": label }, ...content);

  function ago(iso, now) {
    if (!iso) return "never";
    const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
    if (s < 120) return s + " s ago";
    if (s < 7200) return Math.round(s / 60) + " min ago";
    return Math.round(s / 3600) + " h ago";
  }
  function time(iso, now, text) {
    return el("time", { datetime: iso, title: iso }, text === undefined ? ago(iso, now) : text);
  }
  function until(iso) {
    return el("time", { datetime: iso, title: iso }, "until " + new Date(iso).toLocaleTimeString());
  }
  function cpu(m) { return (Number(m) / 1000).toLocaleString(undefined, { maximumFractionDigits: 2 }); }
  function bytes(b) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let v = Number(b), i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return v.toLocaleString(undefined, { maximumFractionDigits: 1 }) + " " + units[i];
  }

  /** Per node: its suspended placements (model@version and end), from the models' per-node standings. */
  function suspensionsByNode(models) {
    const map = new Map();
    for (const m of models) for (const v of m.versions) for (const p of v.nodes) {
      if (!p.suspended) continue;
      if (!map.has(p.node)) map.set(p.node, []);
      map.get(p.node).push({ key: m.name + "@" + v.version, until: p.suspendedUntil, reason: p.suspendedFor });
    }
    return map;
  }

  function renderSummary(state) {
    const online = state.nodes.filter((n) => n.online).length;
    const versions = state.models.reduce((a, m) => a + m.versions.length, 0);
    const quarantined = state.models.reduce((a, m) => a + m.versions.filter((v) => v.quarantine).length, 0);
    const item = (name, value) => el("div", null, el("dt", null, name), el("dd", null, value));
    $("summary").replaceChildren(
      item("Nodes online", online + " of " + state.nodes.length),
      item("Models", state.models.length),
      item("Versions", versions),
      item("Quarantined", quarantined));
  }

  /** A fingerprint shortened for the table (sha256:1234abcd…), the whole of it in the title. */
  function fingerprint(label, f) {
    return el("span", { class: "fingerprint", title: label + " " + f }, label + " ", el("code", null, f.slice(0, 15) + "…"));
  }

  /** The node's signing key (bound to its id) and the key of its TLS certificate, as the gateway holds them. */
  function keys(n) {
    if (!n.key && !n.tlsFingerprint) return "none";
    return el("span", null, n.key ? fingerprint("signs", n.key) : null, n.key && n.tlsFingerprint ? el("br") : null,
      n.tlsFingerprint ? fingerprint("TLS", n.tlsFingerprint) : null);
  }

  function renderNodes(state, now) {
    const suspended = suspensionsByNode(state.models);
    const matching = state.nodes.filter((n) => matches(n.id));
    const rows = matching.slice(0, MAX_NODES).map((n) => {
      const mine = suspended.get(n.id) || [];
      return el("tr", { "data-node": n.id },
        cell("Node", el("strong", null, n.id)),
        cell("State", n.online ? badge("ok", "online") : badge("bad", "offline"),
          !n.online && n.offlineSince ? el("span", { class: "since" }, " since ", time(n.offlineSince, now)) : null),
        cell("Address", n.address),
        cell("Last heartbeat", time(n.lastHeartbeat, now)),
        cell("Last job", time(n.lastJob, now)),
        cell("Keys", keys(n)),
        cell("CPU requested / offered", cpu(n.requested.cpuMillicores) + " / " + cpu(n.capacity.cpuMillicores)),
        cell("Memory requested / offered", bytes(n.requested.memoryBytes) + " / " + bytes(n.capacity.memoryBytes)),
        cell("GPUs", n.requested.gpuCount + " / " + n.capacity.gpuCount),
        cell("Reputation", Number(n.reputation).toFixed(2)),
        cell("Suspensions", mine.length === 0 ? "none" : el("ul", null, ...mine.map((s) => el("li", null, badge("warn", "suspended"), " ", s.key, s.reason ? " (" + s.reason + ")" : "", " ", s.until ? until(s.until) : "")))),
        cell("Refused", n.refused.length === 0 ? "none" : el("ul", null, ...n.refused.map((r) => el("li", null, r.model, r.reason ? ": " + r.reason : "")))));
    });
    $("nodes").tBodies[0].replaceChildren(...rows);
    empty("nodes-empty", rows.length, state.nodes.length, "No node has registered.", "No node's name contains");
    more("nodes-more", rows.length, matching.length, "nodes");
    return matching.length;
  }

  // The last 5 minutes of a version: answers, their rate and latency, failed attempts by verdict.
  function traffic(t) {
    if (!t) return null;
    const ms = (x) => (x === null || x === undefined ? "–" : Number(x).toFixed(1) + " ms");
    const failures = Object.entries(t.failuresByVerdict || {});
    return el("p", { class: "traffic" }, "Last 5 min: " + t.answers + " answer(s), " + t.answersPerMinute + "/min, p50 " + ms(t.p50Ms) +
      ", p99 " + ms(t.p99Ms) + "; failed attempts: " + (failures.length === 0 ? "none" : failures.map(([v, n]) => v + " " + n).join(", ")));
  }

  function renderModels(state, now) {
    const matching = state.models.filter((m) => matches(m.name));
    const cards = matching.slice(0, MAX_MODELS).map((m) => el("article", { class: "model", "data-model": m.name },
      el("h3", null, m.name, m.latest ? " (latest " + m.latest + ")" : ""),
      ...m.versions.map((v) => {
        const ready = v.nodes.filter((p) => p.state === "ready" && p.online && !p.suspended).length;
        const q = v.quarantine;
        return el("div", { class: "version", "data-version": v.version },
          el("p", null, el("strong", null, v.version), " ",
            q ? badge("bad", "quarantined") : ready > 0 ? badge("ok", "serving") : badge("warn", "not ready"),
            " ", ready + " of " + v.nodes.length + " placed node(s) ready"),
          q ? el("p", { class: "quarantine" }, "Quarantine verdict: ", el("strong", { class: "verdict" }, q.verdict),
            " (reported by " + q.nodes.join(", ") + ") ", q.until ? until(q.until) : "") : null,
          v.nodes.length === 0 ? el("p", { class: "empty" }, "Not placed on any node.") : el("p", null, "Placements: ",
            ...v.nodes.flatMap((p, i) => [i > 0 ? ", " : null, p.node + " ",
              badge(!p.online || p.state === "failed" || p.state === "refused" ? "bad" : p.suspended ? "warn" : p.state === "ready" ? "ok" : "warn",
                !p.online ? "offline" : p.suspended ? "suspended" : p.state),
              p.latencyMs ? " " + Number(p.latencyMs).toFixed(1) + " ms" : null])),
          traffic(v.traffic),
          el("p", { class: "digest" }, "Image ", el("code", null, v.imageDigest)));
      })));
    $("models").replaceChildren(...cards);
    empty("models-empty", cards.length, state.models.length, "No model is published.", "No model's name contains");
    more("models-more", cards.length, matching.length, "models");
    return matching.length;
  }

  // A failure is listed when the filter matches its model's name or its node's.
  function renderFailures(state) {
    const rows = [];
    let total = 0, any = 0;
    for (const m of state.models) for (const v of m.versions) for (const p of v.nodes) {
      if (!p.verdict && !p.failures && !p.restarts) continue;
      any++;
      if (!matches(m.name) && !matches(p.node)) continue;
      if (++total > MAX_FAILURES) continue;
      rows.push(el("tr", { "data-model": m.name, "data-node": p.node },
        cell("Model", m.name + "@" + v.version),
        cell("Node", p.node),
        cell("Verdict", p.verdict ? badge("bad", p.verdict) : "none"),
        cell("Detail", p.detail || ""),
        cell("Failed / answered", p.failures + " / " + p.successes),
        cell("Restarts", p.restarts)));
    }
    $("failures").tBodies[0].replaceChildren(...rows);
    empty("failures-empty", rows.length, any, "No failures.", "No failure of a model or node whose name contains");
    more("failures-more", rows.length, total, "failures");
  }

  function render(state) {
    const now = Date.parse(state.at) || Date.now();
    renderSummary(state);
    const nodes = renderNodes(state, now);
    const models = renderModels(state, now);
    renderFailures(state);
    $("filter-shown").textContent = filter === "" ? "" :
      count(models) + " of " + count(state.models.length) + " models, " + count(nodes) + " of " + count(state.nodes.length) + " nodes match";
  }

  let lastState = null;
  $("filter").value = filter;
  $("filter").addEventListener("input", () => {
    filter = $("filter").value.trim();
    const url = new URL(location.href);
    if (filter === "") url.searchParams.delete("filter"); else url.searchParams.set("filter", filter);
    history.replaceState(null, "", url);
    if (lastState) render(lastState);
  });

  let lastGood = null;
  async function poll() {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    try {
      const r = await fetch("/inference/v1", { cache: "no-store", signal: abort.signal, headers: { Accept: "application/json" } });
      if (!r.ok) throw new Error("the gateway answered " + r.status);
      const state = await r.json();
      if (!state || !Array.isArray(state.nodes) || !Array.isArray(state.models)) throw new Error("the answer is not the gateway's state");
      render(state);
      lastState = state;
      lastGood = new Date();
      $("status").className = "";
      $("status").textContent = "Updated " + lastGood.toLocaleTimeString();
      document.body.dataset.updated = String(lastGood.getTime());
    } catch (e) {
      $("status").className = "error";
      $("status").textContent = "Cannot read the gateway's state (" + (e && e.name === "AbortError" ? "no answer within 5 s" : e.message) + ")" +
        (lastGood ? "; showing the state of " + lastGood.toLocaleTimeString() : "");
    } finally {
      clearTimeout(timer);
      setTimeout(poll, POLL_MS);
    }
  }
  poll();
})();
