// The page of `tasuki serve`: one card per model (GET models), a form for what its task reads,
// and the result drawn for a person. No framework, no build step, nothing from the internet.
// User text only ever goes into textContent, never into HTML.
"use strict";

// Example values by form kind and field, so that every form can be submitted as it stands.
const EXAMPLES = {
  en: { text: { text: "I love this film, the food in Paris was great" },
        question: { question: "Where was the food great?", context: "Alice went to Paris in May. The food in Paris was great." },
        pair: { text: "A man is playing a guitar.", pair: "Someone plays an instrument." } },
  ja: { text: { text: "山田太郎は東京都の会社で働いています。" },
        question: { question: "山田さんはどこで働いていますか？", context: "山田太郎は東京都の会社で働いています。" },
        pair: { text: "今日は良い天気です。", pair: "今日は晴れています。" } },
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

// The form a model's task declares (GET /models: form_kind, input_fields): a "text" form sends its
// one text as a string; "question" (a one-line question, then its text) and "pair" (two texts) send
// {field: value}.
function taskForm(model, kind, examples) {
  const fields = model.input_fields && model.input_fields.length ? model.input_fields : ["text"];
  const values = examples[kind] || {};
  const form = el("form", { class: `form-${kind}` });
  fields.forEach((name, i) => {
    const label = kind === "pair" ? (i === 0 ? "First text" : "Second text") : name[0].toUpperCase() + name.slice(1);
    const box = kind === "question" && i === 0 ? "input" : "textarea";
    // a pair task's second field may have another name than "pair" (text_pair, say): the example's second text
    const example = values[name] ?? (kind === "pair" ? Object.values(values)[i] : undefined) ?? "";
    form.append(...field(box, name, label, example));
  });
  return form;
}

function card(model) {
  const examples = EXAMPLES[model.lang] || EXAMPLES.en;
  const kind = model.form_kind || "text";
  const form = taskForm(model, kind, examples);
  const button = el("button", { type: "submit", text: kind === "pair" ? "Compare" : "Predict" });
  const result = el("div", { class: "result", "aria-live": "polite" });
  form.append(button);
  // Labels of a classifier say what the bars can show; a tagger's labels are tags, not worth a line.
  const labels = model.labels && model.result_kind === "labels" ? ` · labels: ${model.labels.join(", ")}` : "";
  const node = el("section", { class: "card", "data-model": model.name, "data-task": model.task },
    el("h2", { text: model.name }),
    el("div", { class: "meta" }, el("span", { class: "badge", text: model.task }),
       el("span", { class: "badge", text: model.lang }),
       ...(model.runtime && model.runtime !== "torch"
         ? [el("span", { class: "badge", text: model.quantization ? `${model.runtime} ${model.quantization}` : model.runtime })]
         : []),
       el("span", { title: model.backbone || "", text: `backbone: ${shortPath(model.backbone)}${labels}` })),
    form, result);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form).entries());
    const inputs = kind === "text" ? values[Object.keys(values)[0]] : values;
    send(`models/${encodeURIComponent(model.name)}`, { inputs }, button, result,
         (body) => render(model.result_kind, body, inputs, model.options));
  });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  for (const route of model.routes || []) {
    if (route.form) node.append(routeForm(model, route));
  }
  return node;
}

// A route a plugin added (GET /models: routes[].form): one box, its request, its result kind.
function routeForm(model, route) {
  const spec = route.form;
  const form = el("form", { class: `form-${route.path}` });
  const button = el("button", { type: "submit", text: spec.button || "Send" });
  const result = el("div", { class: `result ${route.path}-result`, "aria-live": "polite" });
  form.append(...field("input", spec.field, spec.label, spec.value ?? ""), button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { inputs: new FormData(form).get(spec.field), ...(spec.parameters ? { parameters: spec.parameters } : {}) };
    send(`models/${encodeURIComponent(model.name)}/${route.path}`, body, button, result,
         (answer) => render(spec.result, answer, body.inputs));
  });
  return el("div", { class: "route" }, form, result);
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

// POST a body, then draw the answer (or the error) into `result` with the time it took.
async function send(url, body, button, result, draw) {
  button.disabled = true;
  result.replaceChildren(el("span", { class: "none", text: "…" }));
  const started = performance.now();
  try {
    const response = await fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (!response.ok) {
      result.replaceChildren(el("div", { class: "error", text: `${response.status}: ${answer.error || "error"}` }));
    } else {
      result.replaceChildren(draw(answer),
        el("div", { class: "took", text: `${Math.round(performance.now() - started)} ms` }));
    }
  } catch (error) {
    result.replaceChildren(el("div", { class: "error", text: `request failed: ${error}` }));
  } finally {
    button.disabled = false;
  }
}

// Draw a prediction as its task declares (GET /models: result_kind); what does not fit is shown as JSON.
// `options`: the model's saved options (GET /models), which say what thresholds a labels result was decided at.
function render(kind, value, inputs, options = {}) {
  const isObject = value && typeof value === "object" && !Array.isArray(value);
  const text = typeof inputs === "string" ? inputs : inputs && inputs.text;
  if (kind === "labels" && isObject && value.scores && typeof value.scores === "object" && Array.isArray(value.labels)) {
    // several labels may pass ({labels: [{label, score}], scores}): the prediction says which, the bars mark where
    return bars(value.scores, null, new Set(value.labels.map((p) => p.label)), cuts(Object.keys(value.scores), options));
  }
  if (kind === "labels" && isObject && value.scores && typeof value.scores === "object") return bars(value.scores, value.label);
  if (kind === "labels" && isObject && "label" in value && "score" in value) {
    return bars({ [value.label]: value.score }, value.label);
  }
  if (kind === "answer" && isObject && "answer" in value && "start" in value) return answerView(value, inputs.context);
  if (kind === "score" && isObject && typeof value.score === "number") return similarityView(value.score);
  if (kind === "spans" && typeof text === "string" && Array.isArray(value)
      && value.every((e) => e && typeof e === "object" && "start" in e && "end" in e)) {
    return entitiesView(text, value);
  }
  if (kind === "hits" && Array.isArray(value)) return hitsView(value);
  if (kind === "vector" && Array.isArray(value) && value.every((x) => typeof x === "number")) {
    const head = value.slice(0, 6).map((x) => x.toFixed(3)).join(", ");
    return el("div", { class: "vector", text: `vector of ${value.length} dimensions: [${head}, …]` });
  }
  return el("pre", { text: JSON.stringify(value, null, 2) });
}

// The threshold each label is decided at, as the model decides it: options.threshold for every label when
// set, else options.thresholds[label]; a label with neither gets no mark.
function cuts(labels, options) {
  const own = options && typeof options.thresholds === "object" && options.thresholds ? options.thresholds : {};
  const all = options && typeof options.threshold === "number" ? options.threshold : null;
  return Object.fromEntries(labels.map((label) => [label, all ?? own[label]]).filter(([, t]) => typeof t === "number"));
}

// One bar per label, best first. Single-label: `best` is on top. Multi-label: `passed` holds the labels
// above their thresholds, and `thresholds` puts a mark on each bar where its label's threshold lies.
function bars(scores, best, passed = null, thresholds = {}) {
  const list = el("div", { class: "bars" });
  if (passed && !passed.size) list.append(el("div", { class: "none no-label", text: "no label passes its threshold" }));
  for (const [label, score] of Object.entries(scores).sort((a, b) => b[1] - a[1])) {
    const fill = el("div", { class: "bar-fill" });
    fill.style.width = `${Math.max(0, Math.min(1, score)) * 100}%`;
    const track = el("div", { class: "bar-track" }, fill);
    const cut = thresholds[label];
    if (cut !== undefined) {
      const mark = el("div", { class: "bar-cut", "data-threshold": cut, title: `threshold ${(cut * 100).toFixed(1)}%` });
      mark.style.left = `${Math.max(0, Math.min(1, cut)) * 100}%`;
      track.append(mark);
    }
    const chosen = passed ? passed.has(label) : label === best;
    list.append(el("div", { class: chosen ? "bar top" : "bar", "data-label": label,
                            ...(passed ? { "data-passed": String(chosen) } : {}) },
      el("span", { class: "bar-label", text: label, title: label }),
      track,
      el("span", { class: "bar-value", text: `${(score * 100).toFixed(1)}%`,
                   title: cut === undefined ? "" : `threshold ${(cut * 100).toFixed(1)}%` })));
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
