// The page of `tasuki serve`: one card per model (GET models), a form for what its task reads,
// and the result drawn for a person. No framework, no build step, nothing from the internet.
// User text only ever goes into textContent, never into HTML.
"use strict";

const EXAMPLES = {
  en: { text: "I love this film, the food in Paris was great", question: "Where was the food great?",
        context: "Alice went to Paris in May. The food in Paris was great.", pair: ["A man is playing a guitar.",
        "Someone plays an instrument."] },
  ja: { text: "山田太郎は東京都の会社で働いています。", question: "山田さんはどこで働いていますか？",
        context: "山田太郎は東京都の会社で働いています。", pair: ["今日は良い天気です。", "今日は晴れています。"] },
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

// Which form a model needs: from its task, else from the input columns it declares.
function formKind(model) {
  const columns = model.input_columns || [];
  if (columns.includes("question") && columns.includes("context")) return "qa";
  if (model.task === "embedding") return "pair";
  return "text";
}

function field(kind, name, labelText, value) {
  const id = `${name}-${Math.random().toString(36).slice(2, 8)}`;
  const input = kind === "input" ? el("input", { type: "text", id, name }) : el("textarea", { id, name, rows: 3 });
  input.value = value;
  return [el("label", { for: id, text: labelText }), input];
}

// A local backbone directory is shown by its name (the full path is in the tooltip); Hub ids stay whole.
function shortPath(spec) {
  if (!spec) return "?";
  return /^([A-Za-z]:)?[\\/]/.test(spec) ? spec.split(/[\\/]/).filter(Boolean).pop() : spec;
}

function card(model) {
  const examples = EXAMPLES[model.lang] || EXAMPLES.en;
  const kind = formKind(model);
  const form = el("form", { class: `form-${kind}` });
  if (kind === "qa") {
    form.append(...field("input", "question", "Question", examples.question),
                ...field("textarea", "context", "Context", examples.context));
  } else if (kind === "pair") {
    form.append(...field("textarea", "text", "First text", examples.pair[0]),
                ...field("textarea", "pair", "Second text", examples.pair[1]));
  } else {
    form.append(...field("textarea", "text", "Text", examples.text));
  }
  const button = el("button", { type: "submit", text: kind === "pair" ? "Compare" : "Predict" });
  const result = el("div", { class: "result", "aria-live": "polite" });
  form.append(button);
  const labels = model.labels && model.task !== "ner" ? ` · labels: ${model.labels.join(", ")}` : "";
  const node = el("section", { class: "card", "data-model": model.name, "data-task": model.task },
    el("h2", { text: model.name }),
    el("div", { class: "meta" }, el("span", { class: "badge", text: model.task }),
       el("span", { class: "badge", text: model.lang }),
       ...(model.runtime && model.runtime !== "torch"
         ? [el("span", { class: "badge", text: model.quantization ? `${model.runtime} ${model.quantization}` : model.runtime })]
         : []),
       el("span", { title: model.backbone || "", text: `backbone: ${shortPath(model.backbone)}${labels}` })),
    form, result);
  form.addEventListener("submit", (event) => { event.preventDefault(); submit(model, kind, form, button, result); });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  if (model.index) node.append(searchForm(model, examples));
  return node;
}

// An embedding model with a loaded index: a query box, and its nearest index entries with their scores.
function searchForm(model, examples) {
  const form = el("form", { class: "form-search" });
  const button = el("button", { type: "submit", text: "Search" });
  const result = el("div", { class: "result search-result", "aria-live": "polite" });
  const texts = model.index.texts ? "" : " (no texts saved: entries by position)";
  form.append(...field("input", "query", `Search the index: ${model.index.size} entries${texts}`, examples.pair[0]),
              button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = new FormData(form).get("query");
    button.disabled = true;
    result.replaceChildren(el("span", { class: "none", text: "…" }));
    const started = performance.now();
    try {
      const response = await fetch(`models/${encodeURIComponent(model.name)}/search`, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ inputs: query, parameters: { top_k: 5 } }),
      });
      const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
      if (!response.ok) {
        result.replaceChildren(el("div", { class: "error", text: `${response.status}: ${body.error || "error"}` }));
      } else {
        result.replaceChildren(hitsView(body),
          el("div", { class: "took", text: `${Math.round(performance.now() - started)} ms` }));
      }
    } catch (error) {
      result.replaceChildren(el("div", { class: "error", text: `request failed: ${error}` }));
    } finally {
      button.disabled = false;
    }
  });
  return el("div", { class: "search" }, form, result);
}

function hitsView(hits) {
  const list = el("ol", { class: "hits" });
  for (const hit of hits) {
    const fill = el("div", { class: "bar-fill" });
    fill.style.width = `${Math.max(0, Math.min(1, (hit.score + 1) / 2)) * 100}%`;  // cosine: -1..1
    list.append(el("li", { class: "hit", "data-index": hit.index },
      el("span", { class: "hit-text", text: hit.text ?? `#${hit.index}`, title: hit.text ?? "" }),
      el("div", { class: "bar-track" }, fill),
      el("span", { class: "hit-score", text: hit.score.toFixed(3) })));
  }
  return list;
}

async function submit(model, kind, form, button, result) {
  const values = Object.fromEntries(new FormData(form).entries());
  const inputs = kind === "qa" ? { question: values.question, context: values.context }
    : kind === "pair" ? { text: values.text, pair: values.pair } : values.text;
  button.disabled = true;
  result.replaceChildren(el("span", { class: "none", text: "…" }));
  const started = performance.now();
  try {
    const response = await fetch(`models/${encodeURIComponent(model.name)}`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ inputs }),
    });
    const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (!response.ok) {
      result.replaceChildren(el("div", { class: "error", text: `${response.status}: ${body.error || "error"}` }));
    } else {
      result.replaceChildren(render(body, inputs),
        el("div", { class: "took", text: `${Math.round(performance.now() - started)} ms` }));
    }
  } catch (error) {
    result.replaceChildren(el("div", { class: "error", text: `request failed: ${error}` }));
  } finally {
    button.disabled = false;
  }
}

// Draw a prediction by its shape, so that a new plugin's task gets a sensible view too.
function render(value, inputs) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    if ("answer" in value && "start" in value) return answerView(value, inputs.context);
    if (value.scores && typeof value.scores === "object") return bars(value.scores, value.label);
    if ("label" in value && "score" in value) return bars({ [value.label]: value.score }, value.label);
    if ("score" in value && Object.keys(value).length === 1) return similarityView(value.score);
  }
  if (Array.isArray(value) && value.every((e) => e && typeof e === "object" && "start" in e && "end" in e)) {
    return entitiesView(typeof inputs === "string" ? inputs : inputs.text, value);
  }
  if (Array.isArray(value) && value.every((x) => typeof x === "number")) {
    const head = value.slice(0, 6).map((x) => x.toFixed(3)).join(", ");
    return el("div", { class: "vector", text: `vector of ${value.length} dimensions: [${head}, …]` });
  }
  return el("pre", { text: JSON.stringify(value, null, 2) });
}

function bars(scores, best) {
  const list = el("div", { class: "bars" });
  for (const [label, score] of Object.entries(scores).sort((a, b) => b[1] - a[1])) {
    const fill = el("div", { class: "bar-fill" });
    fill.style.width = `${Math.max(0, Math.min(1, score)) * 100}%`;
    list.append(el("div", { class: label === best ? "bar top" : "bar", "data-label": label },
      el("span", { class: "bar-label", text: label, title: label }),
      el("div", { class: "bar-track" }, fill),
      el("span", { class: "bar-value", text: `${(score * 100).toFixed(1)}%` })));
  }
  return list;
}

function hue(type) {
  let h = 0;
  for (const c of type) h = (h * 31 + c.codePointAt(0)) % 360;
  return h;
}

// Offsets are Python str indices (code points); JavaScript strings count UTF-16 units, so
// slice an array of code points, or an emoji before an entity would shift every mark.
function highlighted(text, spans, makeMark) {
  const chars = Array.from(text);
  const box = el("div", { class: "highlighted" });
  let at = 0;
  for (const span of [...spans].sort((a, b) => a.start - b.start)) {
    if (span.start < at || span.end > chars.length || span.end <= span.start) continue;
    box.append(chars.slice(at, span.start).join(""));
    box.append(makeMark(span, chars.slice(span.start, span.end).join("")));
    at = span.end;
  }
  box.append(chars.slice(at).join(""));
  return box;
}

function entitiesView(text, entities) {
  if (!entities.length) return el("div", { class: "none", text: "no entities found" });
  return highlighted(text, entities, (entity, surface) => {
    const type = String(entity.type ?? entity.entity_group ?? entity.label ?? "?");
    const mark = el("mark", { class: "entity", "data-type": type, "data-start": entity.start, "data-end": entity.end,
                              title: `${type} ${entity.score !== undefined ? entity.score.toFixed(3) : ""}` },
                    el("span", { class: "surface", text: surface }), el("span", { class: "type", text: type }));
    mark.style.background = `hsl(${hue(type)} 80% 85%)`;
    return mark;
  });
}

function answerView(value, context) {
  const score = el("div", { class: "took", text: `score ${Number(value.score).toFixed(3)}` });
  if (!value.answer) return el("div", {}, el("div", { class: "none no-answer", text: "no answer in the context" }), score);
  const view = highlighted(context, [value], (span, surface) =>
    el("mark", { class: "answer", "data-start": span.start, "data-end": span.end, text: surface }));
  return el("div", {}, view, score);
}

function similarityView(score) {
  const fill = el("div", { class: "bar-fill" });
  fill.style.width = `${Math.max(0, Math.min(1, (score + 1) / 2)) * 100}%`;  // cosine: -1..1
  return el("div", {}, el("div", { class: "similarity", text: score.toFixed(3) }),
            el("div", { class: "took", text: "cosine similarity (-1 to 1)" }),
            el("div", { class: "bar-track" }, fill));
}

async function main() {
  const root = document.getElementById("models");
  try {
    const response = await fetch("models");
    const models = await response.json();
    root.replaceChildren(...models.map(card));
    document.body.dataset.ready = "true";
  } catch (error) {
    root.replaceChildren(el("p", { class: "error", text: `could not list the models: ${error}` }));
  }
}

main();
