// The gateway's dashboard: polls GET /dashboard/state every 2 s and redraws. The gateway computes what is drawn: the
// summary of the whole mesh, and of the nodes, models and failures the filter keeps, how many there are and the first
// of each (500 nodes, 100 models, 200 failures). So a poll costs the page what it shows, not the whole state document
// (GET /inference/v1, which `infra mesh status` reads: ~500 bytes a version, megabytes for a large catalog).
// Every value from the state is inserted as text (textContent, setAttribute), never as markup: model names, details
// and refusal reasons are strangers' strings. The page's Content-Security-Policy allows no inline script either.
"use strict";
(function () {
  const POLL_MS = 2000;
  const TIMEOUT_MS = 5000;
  // How long after a keystroke in the filter the gateway is asked again (one request for a word typed, not one a letter).
  const FILTER_DELAY_MS = 200;
  const $ = (id) => document.getElementById(id);
  const count = (n) => Number(n).toLocaleString("en-US");

  // The filter: a case-insensitive part of a name, kept in the page's address (?filter=) so a reload or a shared link
  // shows the same.
  let filter = new URLSearchParams(location.search).get("filter") || "";
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

  function renderSummary(summary) {
    const item = (name, value) => el("div", null, el("dt", null, name), el("dd", null, value));
    $("summary").replaceChildren(
      item("Nodes online", count(summary.nodesOnline) + " of " + count(summary.nodes)),
      item("Models", count(summary.models)),
      item("Versions", count(summary.versions)),
      item("Quarantined", count(summary.quarantined)));
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
    const rows = state.nodes.shown.map(({ node: n, suspensions: mine }) => {
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
        cell("Suspensions", mine.length === 0 ? "none" : el("ul", null, ...mine.map((s) => el("li", null, badge("warn", "suspended"), " ", s.model + "@" + s.version, s.reason ? " (" + s.reason + ")" : "", " ", s.until ? until(s.until) : "")))),
        cell("Refused", n.refused.length === 0 ? "none" : el("ul", null, ...n.refused.map((r) => el("li", null, r.model, r.reason ? ": " + r.reason : "")),
          ...(n.refusedCount > n.refused.length ? [el("li", null, "and " + (n.refusedCount - n.refused.length) + " more")] : []))));
    });
    $("nodes").tBodies[0].replaceChildren(...rows);
    empty("nodes-empty", rows.length, state.summary.nodes, "No node has registered.", "No node's name contains");
    more("nodes-more", rows.length, state.nodes.matching, "nodes");
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
    const cards = state.models.shown.map((m) => el("article", { class: "model", "data-model": m.name },
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
    empty("models-empty", cards.length, state.summary.models, "No model is published.", "No model's name contains");
    more("models-more", cards.length, state.models.matching, "models");
  }

  // A failure is listed when the filter matches its model's name or its node's (the gateway keeps those).
  function renderFailures(state) {
    const rows = state.failures.shown.map((f) => el("tr", { "data-model": f.model, "data-node": f.node },
      cell("Model", f.model + "@" + f.version),
      cell("Node", f.node),
      cell("Verdict", f.verdict ? badge("bad", f.verdict) : "none"),
      cell("Detail", f.detail || ""),
      cell("Failed / answered", f.failures + " / " + f.successes),
      cell("Restarts", f.restarts)));
    $("failures").tBodies[0].replaceChildren(...rows);
    empty("failures-empty", rows.length, state.failures.all, "No failures.", "No failure of a model or node whose name contains");
    more("failures-more", rows.length, state.failures.matching, "failures");
  }

  function render(state) {
    const now = Date.parse(state.at) || Date.now();
    renderSummary(state.summary);
    renderNodes(state, now);
    renderModels(state, now);
    renderFailures(state);
    $("filter-shown").textContent = filter === "" ? "" :
      count(state.models.matching) + " of " + count(state.summary.models) + " models, " +
      count(state.nodes.matching) + " of " + count(state.summary.nodes) + " nodes match";
  }

  const isView = (s) => s && s.summary && s.nodes && Array.isArray(s.nodes.shown) && s.models && Array.isArray(s.models.shown) &&
    s.failures && Array.isArray(s.failures.shown);

  // One poll at a time; a change of the filter asks again soon (or as soon as the poll in flight ends), and an answer
  // for a filter no longer in the box is not drawn.
  let next = null, polling = false, again = false;
  function schedule(ms) {
    clearTimeout(next);
    next = setTimeout(poll, ms);
  }

  $("filter").value = filter;
  $("filter").addEventListener("input", () => {
    filter = $("filter").value.trim();
    const url = new URL(location.href);
    if (filter === "") url.searchParams.delete("filter"); else url.searchParams.set("filter", filter);
    history.replaceState(null, "", url);
    if (polling) again = true; else schedule(FILTER_DELAY_MS);
  });

  let lastGood = null;
  async function poll() {
    polling = true;
    again = false;
    const asked = filter;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    try {
      const r = await fetch("/dashboard/state" + (asked === "" ? "" : "?filter=" + encodeURIComponent(asked)),
        { cache: "no-store", signal: abort.signal, headers: { Accept: "application/json" } });
      if (!r.ok) throw new Error("the gateway answered " + r.status);
      const state = await r.json();
      if (!isView(state)) throw new Error("the answer is not the gateway's state");
      if (asked === filter) {
        render(state);
        lastGood = new Date();
        $("status").className = "";
        $("status").textContent = "Updated " + lastGood.toLocaleTimeString();
        document.body.dataset.updated = String(lastGood.getTime());
      }
    } catch (e) {
      $("status").className = "error";
      $("status").textContent = "Cannot read the gateway's state (" + (e && e.name === "AbortError" ? "no answer within 5 s" : e.message) + ")" +
        (lastGood ? "; showing the state of " + lastGood.toLocaleTimeString() : "");
    } finally {
      clearTimeout(timer);
      polling = false;
      schedule(again || asked !== filter ? FILTER_DELAY_MS : POLL_MS);
    }
  }
  poll();
})();
