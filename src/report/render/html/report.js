// The HTML report's script: draws the run embedded in #run. Every text from the run
// goes into the page through textContent, never as markup.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("run").textContent);
  const run = data.run;
  const cases = run.cases;
  // Each block of the prompts is stored once (a dataset's rows share their policy).
  const prompt = (i) => { const of = data.prompt_of[i]; return of ? of.map((b) => data.blocks[b]).join("\n\n") : null; };
  // What the search looks in, lowercased once, on the first search: opening stays fast.
  let haystack = null;
  const hay = (i) => {
    haystack = haystack || cases.map((c, j) => [c.id, c.final, c.reasoning, prompt(j),
      ...c.turns.flatMap((t) => [t.text, ...t.tool_calls.map((r) => `${r.name} ${JSON.stringify(r.input)} ${r.result}`)]),
      ...c.tool_calls.map((t) => `${t.name} ${JSON.stringify(t.input)}`)].filter(Boolean).join("\n").toLowerCase());
    return haystack[i];
  };
  const PAGE = 200;
  const STATUSES = ["passed", "failed", "errored", "skipped"];
  const state = { statuses: new Set(STATUSES), api: "", model: "", tag: "", text: "", shown: PAGE, open: new Set() };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const child of children.flat(Infinity)) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }
  const tokens = (c) => (c.usage ? c.usage.input_tokens + c.usage.output_tokens : 0);
  const pct = (v) => `${Math.round(v * 100)}%`;
  // As the terminal shows it: cents from a dollar up, three significant digits below.
  // toFixed takes at most 100 places: an amount from a hand-made or merged report stays drawable.
  const usd = (v) => !Number.isFinite(v) ? "–" : v === 0 ? "$0.00" : Math.abs(v) >= 1 ? `$${v.toFixed(2)}` : `$${v.toFixed(Math.min(20, Math.floor(-Math.log10(Math.abs(v))) + 3))}`;
  const unique = (f) => [...new Set(cases.flatMap(f))].sort();

  function header() {
    const s = run.summary;
    const failing = s.failed + s.errored - s.tolerated + s.datasets_failed > 0;
    const card = (label, value, cls) => el("div", { class: "card" }, el("b", { class: cls || "" }, value), label);
    return el("section", {},
      el("h1", {}, "gpt-oss-scenarios ", el("span", { class: `badge ${failing ? "failed" : s.interrupted ? "skipped" : "passed"}` },
        failing ? "failed" : s.interrupted ? "interrupted" : "passed")),
      el("div", { class: "muted" }, `started ${run.started_at} · ${(run.duration_ms / 1000).toFixed(1)} s · version ${run.version}`,
        run.mode && run.mode.requested ? ` · mode ${run.mode.requested}` : "", run.filters.length ? ` · ${run.filters.join(" ")}` : ""),
      el("div", { class: "cards" },
        card("cases", s.cases), card("passed", s.passed, "passed"), card("failed", s.failed, "failed"),
        card("errored", s.errored, "errored"), card("skipped", s.skipped, "skipped"),
        card("pending snapshots", s.pending_snapshots),
        card("tokens in / out", `${s.input_tokens} / ${s.output_tokens}`),
        s.cost && s.cost.models.length ? card(s.cost.spent_usd < s.cost.usd ? `cost (${usd(s.cost.spent_usd)} spent, the rest replayed)` : "cost", usd(s.cost.usd)) : null,
        s.judging && s.judging.calls ? card("judging (apart)", `${s.judging.calls} calls, ${s.judging.input_tokens} / ${s.judging.output_tokens} tokens${s.judging.cost_usd != null ? ", " + usd(s.judging.cost_usd) : ""}`) : null),
      baseline(), models());
  }

  function baseline() {
    const b = run.baseline;
    if (!b) return null;
    const lists = [["new failures", b.new_failures], ["fixed", b.fixed], ["answers changed", b.answers_changed],
      ["still failing", b.still_failing], ["new cases", b.new_cases], ["not run", b.missing_cases]];
    const moved = [["output tokens moved", b.tokens_changed, ""], ["latency moved", b.latency_changed, " ms"]];
    // Pass rates compared by Fisher's exact test; a significant change shows its q-value.
    const rates = [["regressed", b.regressed || [], true], ["improved", b.improved || [], true],
      ["changed, not significant", b.changed_not_significant || [], false]];
    const rate = (c, significant) => `${c.id} (${c.before.passed}/${c.before.n} → ${c.after.passed}/${c.after.n}, ${significant ? "q " + c.q_value.toFixed(3) : "p " + c.p_value.toFixed(3)})`;
    return el("section", { id: "baseline" },
      el("h2", {}, `Since ${b.file}: ${(b.regressed || []).length} regressed, ${b.new_failures.length} new failures, ${b.fixed.length} fixed, ${b.answers_changed.length} answers changed`),
      el("ul", {}, rates.filter(([, l]) => l.length).map(([label, l, significant]) => el("li", label === "regressed" ? { class: "regressed" } : {}, `${label}: ${l.map((c) => rate(c, significant)).join(", ")}`)),
        lists.filter(([, l]) => l.length).map(([label, l]) => el("li", {}, `${label}: ${l.join(", ")}`)),
        moved.filter(([, l]) => l.length).map(([label, l, unit]) => el("li", {}, `${label}: ${l.map((m) => `${m.id} (${m.before} → ${m.after}${unit})`).join(", ")}`))),
      rates.some(([, l]) => l.length) ? el("p", {}, `Pass rates compared by Fisher's exact test, one-sided; regressions and improvements each hold a false discovery rate of ${b.alpha} (Benjamini-Hochberg).`) : null);
  }

  function models() {
    const by = new Map();
    for (const c of cases) {
      const m = by.get(c.model) || { cases: 0, input: 0, output: 0, cost: null };
      m.cases += 1;
      if (c.usage) { m.input += c.usage.input_tokens; m.output += c.usage.output_tokens; }
      if (c.cost_usd != null) m.cost = (m.cost || 0) + c.cost_usd;
      by.set(c.model, m);
    }
    return el("section", {}, el("h2", {}, "Tokens and cost by model"),
      el("table", { id: "models" }, el("tr", {}, el("th", {}, "model"), el("th", { class: "num" }, "cases"), el("th", { class: "num" }, "input tokens"), el("th", { class: "num" }, "output tokens"), el("th", { class: "num" }, "cost")),
        [...by.entries()].sort().map(([model, m]) => el("tr", {}, el("td", {}, model), el("td", { class: "num" }, m.cases), el("td", { class: "num" }, m.input), el("td", { class: "num" }, m.output), el("td", { class: "num" }, m.cost === null ? "–" : usd(m.cost))))));
  }

  function charts() {
    const groups = new Map();
    for (const c of cases) {
      if (c.status === "skipped") continue;
      const g = groups.get(c.scenario) || { passed: 0, total: 0 };
      g.total += 1;
      if (c.status === "passed") g.passed += 1;
      groups.set(c.scenario, g);
    }
    const rows = [...groups.entries()].sort((a, b) => a[1].passed / a[1].total - b[1].passed / b[1].total).slice(0, 30);
    const W = 600, bar = 18, left = 260;
    const passRate = svg("svg", { viewBox: `0 0 ${W} ${rows.length * bar + 10}`, role: "img", "aria-label": "pass rate per scenario" },
      rows.map(([name, g], i) => [
        svg("text", { x: left - 6, y: i * bar + 13, "text-anchor": "end", "font-size": 11 }, name.length > 40 ? "…" + name.slice(-39) : name),
        svg("rect", { x: left, y: i * bar + 3, width: W - left - 90, height: bar - 6, fill: "#f6f8fa", stroke: "#d0d7de" }),
        svg("rect", { x: left, y: i * bar + 3, width: (W - left - 90) * g.passed / g.total, height: bar - 6, fill: "#1a7f37" }),
        svg("text", { x: W - 85, y: i * bar + 13, "font-size": 11 }, `${pct(g.passed / g.total)} of ${g.total}`),
      ]));
    const latencies = cases.filter((c) => c.latency_ms !== null && c.latency_ms !== undefined && c.status !== "skipped").map((c) => c.latency_ms);
    // A reduce, not Math.max(...list): spreading a huge list overflows the stack.
    const max = latencies.reduce((a, b) => Math.max(a, b), 1), BINS = 20, counts = new Array(BINS).fill(0);
    for (const l of latencies) counts[Math.min(BINS - 1, Math.floor((l / max) * BINS))] += 1;
    const top = counts.reduce((a, b) => Math.max(a, b), 1), H = 160, bw = (W - 40) / BINS;
    const histogram = svg("svg", { viewBox: `0 0 ${W} ${H + 30}`, role: "img", "aria-label": "latency distribution" },
      counts.map((n, i) => svg("rect", { x: 30 + i * bw, y: H - (H - 10) * n / top, width: bw - 2, height: (H - 10) * n / top, fill: "#0969da" },
        svg("title", {}, `${Math.round((i * max) / BINS)}–${Math.round(((i + 1) * max) / BINS)} ms: ${n} cases`))),
      svg("text", { x: 30, y: H + 20, "font-size": 11 }, "0 ms"),
      svg("text", { x: W - 10, y: H + 20, "font-size": 11, "text-anchor": "end" }, `${max} ms`),
      svg("text", { x: 0, y: 12, "font-size": 11 }, `${top}`));
    return el("section", { class: "charts" },
      el("div", { class: "chart" }, el("h2", {}, "Pass rate by scenario (lowest first)"), passRate),
      el("div", { class: "chart" }, el("h2", {}, `Latency (${latencies.length} cases)`), histogram));
  }

  function datasets() {
    if (!run.datasets.length) return null;
    return el("section", {}, el("h2", {}, "Datasets"), run.datasets.map((d) => {
      const l = d.labels;
      const classes = l ? [...new Set([...Object.keys(l.confusion.matrix), ...Object.values(l.confusion.matrix).flatMap(Object.keys), ...Object.keys(l.confusion.unextracted)])].sort() : [];
      return el("div", { class: "dataset" },
        el("h3", {}, d.id, " ", el("span", { class: `badge ${d.passed ? "passed" : "failed"}` }, d.passed ? "passed" : "failed")),
        el("div", { class: "muted" }, `${d.data} · rows passed ${d.rows_passed.k}/${d.rows_passed.n} (${pct(d.rows_passed.value)}, 95% CI ${pct(d.rows_passed.low)}–${pct(d.rows_passed.high)})`),
        l ? el("div", {}, `accuracy ${l.scores.accuracy.value.toFixed(3)} · precision ${l.scores.precision.toFixed(3)} · recall ${l.scores.recall.toFixed(3)} · F1 ${l.scores.f1.toFixed(3)} · macro-F1 ${l.scores.macro_f1.toFixed(3)}`) : null,
        l ? el("table", { class: "confusion" },
          el("tr", {}, el("th", {}, "expected \\ extracted"), classes.map((c) => el("th", {}, c)), el("th", {}, "unextracted")),
          classes.map((e) => el("tr", {}, el("th", {}, e), classes.map((g) => el("td", {}, (l.confusion.matrix[e] || {})[g] || 0)), el("td", {}, l.confusion.unextracted[e] || 0)))) : null,
        d.thresholds.length ? el("ul", {}, d.thresholds.map((t) => el("li", { class: t.met ? "passed" : "failed" }, `${t.name} ${t.min}: ${t.value.toFixed(3)} (${t.met ? "met" : "not met"})`))) : null,
        d.snapshot ? el("div", { class: "muted" }, `snapshot table ${d.snapshot.path}: ${d.snapshot.status}${d.snapshot.pending ? " (pending review)" : ""}`,
          ["changed", "added", "removed"].filter((k) => d.snapshot[k].length).map((k) => ` · ${k}: ${d.snapshot[k].join(", ")}`)) : null,
        d.problems.length ? el("ul", {}, d.problems.map((p) => el("li", { class: "errored" }, p))) : null,
        d.reasons.length ? el("ul", {}, d.reasons.map((r) => el("li", { class: "failed" }, r))) : null);
    }));
  }

  let typing = null;
  function filters() {
    const pick = (key, label, values) => el("select", { "aria-label": label, onchange: (e) => { state[key] = e.target.value; state.shown = PAGE; draw(); } },
      el("option", { value: "" }, `all ${label}s`), values.map((v) => el("option", { value: v }, v)));
    return el("div", { class: "filters", id: "filters" },
      STATUSES.map((s) => el("button", { class: s, "data-status": s, "aria-pressed": "true", onclick: (e) => {
        if (state.statuses.has(s)) state.statuses.delete(s); else state.statuses.add(s);
        e.target.setAttribute("aria-pressed", String(state.statuses.has(s)));
        state.shown = PAGE;
        draw();
      } }, `${s} (${cases.filter((c) => c.status === s).length})`)),
      pick("api", "api", unique((c) => [c.api])), pick("model", "model", unique((c) => [c.model])),
      pick("tag", "tag", unique((c) => c.tags || [])),
      el("input", { type: "search", placeholder: "search ids, answers, reasoning, prompts, tool calls", "aria-label": "search",
        oninput: (e) => {
          clearTimeout(typing);
          typing = setTimeout(() => { state.text = e.target.value.toLowerCase(); state.shown = PAGE; draw(); }, 150);
        } }));
  }

  function matches(c, i) {
    if (!state.statuses.has(c.status)) return false;
    if (state.api && c.api !== state.api) return false;
    if (state.model && c.model !== state.model) return false;
    if (state.tag && !(c.tags || []).includes(state.tag)) return false;
    if (!state.text) return true;
    return hay(i).includes(state.text);
  }

  function diff(text) {
    return el("pre", { class: "diff" }, text.split("\n").map((line) =>
      el("span", { class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "" }, line + "\n")));
  }

  function detail(c, i) {
    const parts = [];
    const asked = prompt(i);
    if (asked) parts.push(el("h4", {}, "Prompt"), el("pre", { class: "prompt" }, asked));
    parts.push(el("div", { class: "pair" },
      el("div", {}, el("h4", {}, "Final answer"), el("pre", { class: "final" }, c.final || "")),
      el("div", {}, el("h4", {}, "Reasoning"), el("pre", { class: "reasoning" }, c.reasoning || ""))));
    const facts = [`stop reason ${c.stop_reason || "none"}`, c.latency_ms !== null ? `${c.latency_ms} ms` : null,
      c.usage ? `${c.usage.input_tokens} in / ${c.usage.output_tokens} out tokens` : null,
      c.cost_usd != null ? usd(c.cost_usd) : null, c.service_tier ? `tier ${c.service_tier}` : null, `source ${c.source || "-"}`, c.batch_job ? `job ${c.batch_job}` : null,
      c.samples.n > 1 ? `${c.samples.passed}/${c.samples.n} samples passed (95% CI ${pct(c.samples.low)}–${pct(c.samples.high)}; pass^${c.samples.n} ${c.samples.all_passed ? "yes" : "no"})` : null,
      c.judging ? `judging ${c.judging.calls} calls, ${c.judging.input_tokens} / ${c.judging.output_tokens} tokens${c.judging.cost_usd != null ? ", " + usd(c.judging.cost_usd) : ""}` : null].filter(Boolean);
    parts.push(el("div", { class: "muted" }, facts.join(" · "), c.flags.map((f) => el("span", { class: "tag flag" }, f))));
    if (c.row) parts.push(el("p", { class: "row" }, `dataset ${c.row.dataset}, row ${c.row.id} at ${c.row.at}`,
      c.row.expected_label !== null ? ` · expected label ${c.row.expected_label}, extracted ${c.row.label === null ? "none" : c.row.label}` : "",
      c.tolerated ? " · judged by the dataset's min_rows_passed" : ""));
    if (c.shortfall) parts.push(el("p", { class: "failed" }, c.shortfall));
    if (c.error) parts.push(el("p", { class: "errored" }, `error (${c.error.kind}${c.error.status ? ", HTTP " + c.error.status : ""}): ${c.error.message}`));
    if (c.skip_reason) parts.push(el("p", { class: "skipped" }, c.skip_reason));
    if (c.assertions.length) {
      parts.push(el("h4", {}, "Assertions"), el("ul", { class: "checks" }, c.assertions.map((a) => el("li", { class: a.passed ? "passed" : a.errored ? "errored" : "failed" },
        `${a.passed ? "✓" : a.errored ? "⚠" : "✗"} ${a.kind}: ${a.message}`,
        a.judge ? el("div", { class: "muted judge" }, `grader ${a.judge.model}${a.judge.score !== null ? `, score ${a.judge.score.toFixed(2)}` : ""}${a.judge.asked > 1 ? `, ${a.judge.agreeing} of ${a.judge.asked} grades` : ""}`,
          a.judge.reasoning ? el("details", {}, el("summary", {}, "grader's reasoning"), el("pre", {}, a.judge.reasoning)) : null) : null))));
    }
    if (c.tool_calls.length && !c.turns.length) parts.push(el("h4", {}, "Tool calls"), el("pre", {}, c.tool_calls.map((t) => `${t.name} ${JSON.stringify(t.input)}`).join("\n")));
    if (c.turns.length) {
      parts.push(el("h4", {}, "Trajectory"), el("ol", { class: "turns" }, c.turns.map((t) => el("li", {},
        t.reasoning ? el("div", { class: "muted" }, `reasoning: ${t.reasoning}`) : null,
        t.text ? el("div", {}, t.text) : null,
        t.tool_calls.map((r) => el("div", {}, el("code", {}, `${r.name}(${JSON.stringify(r.input)})`), ` → ${r.is_error ? "error: " : ""}${r.result}`))))));
    }
    const s = c.snapshot;
    if (s) {
      parts.push(el("h4", {}, `Snapshot: ${s.status}${s.pending ? " (pending review)" : ""}`), el("div", { class: "muted" }, s.path));
      if (s.reworded) parts.push(el("p", { class: "reworded" }, `reworded, judged ${s.reworded.equivalent === true ? "equivalent" : s.reworded.equivalent === false ? "not equivalent" : "by no one (the grader failed)"} by ${s.reworded.grade.model}: ${s.reworded.grade.reason}`));
      if (s.diff) parts.push(diff(s.diff));
    }
    return el("tr", { class: "detail" }, el("td", { colspan: 6 }, parts));
  }

  function table(list) {
    const body = el("tbody", {});
    for (const [i, c] of list.slice(0, state.shown)) {
      const open = state.open.has(c.id);
      body.append(el("tr", { class: "case", "data-id": c.id, "data-status": c.status, "aria-expanded": String(open),
        onclick: () => { if (state.open.has(c.id)) state.open.delete(c.id); else state.open.add(c.id); draw(); } },
        el("td", { class: `status ${c.status}` }, c.status + (c.tolerated ? " (tolerated)" : "")),
        el("td", {}, c.id, (c.tags || []).map((t) => el("span", { class: "tag" }, t))),
        el("td", {}, c.api), el("td", {}, c.model),
        el("td", { class: "num" }, c.latency_ms === null || c.latency_ms === undefined ? "" : `${c.latency_ms} ms`),
        el("td", { class: "num" }, tokens(c) || "")));
      if (open) body.append(detail(c, i));
    }
    return el("table", { id: "cases" },
      el("thead", {}, el("tr", {}, el("th", {}, "status"), el("th", {}, "case"), el("th", {}, "api"), el("th", {}, "model"), el("th", { class: "num" }, "latency"), el("th", { class: "num" }, "tokens"))),
      body);
  }

  const list = el("section", { id: "list" });
  function draw() {
    const found = [];
    cases.forEach((c, i) => { if (matches(c, i)) found.push([i, c]); });
    list.replaceChildren(
      el("p", { class: "muted", id: "count" }, `${found.length} of ${cases.length} cases`),
      table(found),
      found.length > state.shown ? el("button", { class: "more", onclick: () => { state.shown += PAGE; draw(); } }, `show ${Math.min(PAGE, found.length - state.shown)} more`) : null);
  }

  const app = document.getElementById("app");
  app.replaceChildren(header(), charts(), datasets() || "", el("h2", {}, "Cases"), filters(), list);
  draw();
  document.body.setAttribute("data-ready", "true");
})();
