// The visionflow playground: pick a model or stored workflow, give it an image, see the
// predictions drawn next to the JSON and the timings. Plain JavaScript, same-origin API calls.
"use strict";

(() => {
  const D = window.VisionflowDraw;
  const { api } = window.VisionflowApi;
  const $ = (id) => document.getElementById(id);
  const KEY_STORAGE = "visionflow.api_key";
  const state = { catalog: [], workflows: [], image: null, imageName: "" };

  // ---- status, error and count hooks ------------------------------------------------------
  function setStatus(text) { $("status").textContent = text; }

  function clearResult() {
    document.querySelectorAll('[data-testid="error"], [data-testid="prediction-count"]')
      .forEach((node) => node.remove());
  }

  function showError(message) {
    clearResult();
    const box = document.createElement("div");
    box.className = "error";
    box.dataset.testid = "error";
    box.textContent = message;
    $("status").after(box);
    setStatus("");
  }

  function showCount(count, what) {
    const line = document.createElement("p");
    line.className = "status";
    const number = document.createElement("span");
    number.className = "count";
    number.dataset.testid = "prediction-count";
    number.textContent = String(count);
    line.append(number, document.createTextNode(` ${what}`));
    line.dataset.role = "count-line";
    document.querySelectorAll('[data-role="count-line"]').forEach((node) => node.remove());
    $("status").after(line);
  }

  // ---- catalog ---------------------------------------------------------------------------
  // Loads may overlap (the page's start, a key change); only the latest one is shown.
  let catalogLoads = 0;

  async function loadCatalog() {
    const select = $("model-select");
    const load = ++catalogLoads;
    let catalog = [];
    const workflows = [];
    let failure = null;
    try {
      const { body } = await api("GET", "/models");
      catalog = body.models;
      for (const workspace of body.visible_workspaces) {
        try {
          const listed = await api("GET", `/${encodeURIComponent(workspace)}/workflows`);
          for (const w of listed.body.workflows) workflows.push({ workspace, ...w });
        } catch { /* a workspace this key cannot list */ }
      }
    } catch (error) {
      failure = error;
    }
    if (load !== catalogLoads) return;
    state.catalog = catalog;
    state.workflows = workflows;
    if (failure) showError(failure.message);
    const previous = select.value;
    select.replaceChildren();
    const group = (label) => {
      const g = document.createElement("optgroup");
      g.label = label;
      select.append(g);
      return g;
    };
    const models = group("Models");
    for (const m of state.catalog) {
      const option = new Option(`${m.model_id} — ${m.task_type} (${m.workspace})`, `model:${m.model_id}`);
      option.disabled = !m.request_path;
      models.append(option);
    }
    if (state.workflows.length) {
      const stored = group("Stored workflows");
      for (const w of state.workflows) {
        stored.append(new Option(`${w.workspace}/${w.workflow_id} — workflow v${w.latest_version}`,
          `workflow:${w.workspace}/${w.workflow_id}`));
      }
    }
    group("Built in").append(new Option("PP-OCR — text (built in)", "ocr:pp-ocr"));
    if ([...select.options].some((o) => o.value === previous)) select.value = previous;
    renderModelsPage();
    selectionChanged();
    // Other pages (the stream page) offer the same stored workflows.
    document.dispatchEvent(new CustomEvent("visionflow:catalog",
      { detail: { workflows: state.workflows } }));
  }

  function selected() {
    const [kind, ...rest] = $("model-select").value.split(":");
    const id = rest.join(":");
    if (kind === "model") return { kind, id, model: state.catalog.find((m) => m.model_id === id) };
    return { kind, id };
  }

  async function selectionChanged() {
    const choice = selected();
    const task = choice.model?.task_type ?? "";
    $("model-options").hidden = choice.kind !== "model";
    $("workflow-options").hidden = choice.kind !== "workflow";
    const detection = ["object-detection", "instance-segmentation", "keypoint-detection"]
      .includes(task);
    document.querySelectorAll(".detection-only").forEach((n) => { n.hidden = !detection; });
    document.querySelectorAll(".keypoints-only").forEach((n) => {
      n.hidden = task !== "keypoint-detection";
    });
    if (choice.kind === "workflow") {
      const inputs = await workflowImageInputs(choice.id);
      $("workflow-inputs").textContent = inputs.length
        ? `The image goes to input ${inputs.map((n) => `“${n}”`).join(", ")}.`
        : "This workflow takes no image input.";
    }
  }

  async function workflowImageInputs(id) {
    const [workspace, name] = id.split("/");
    try {
      const { body } = await api("POST",
        `/${encodeURIComponent(workspace)}/workflows/${encodeURIComponent(name)}/describe_interface`,
        { json: {} });
      return Object.entries(body.inputs || {})
        .filter(([, kinds]) => JSON.stringify(kinds).includes("image"))
        .map(([inputName]) => inputName);
    } catch {
      return ["image"];
    }
  }

  // ---- image -----------------------------------------------------------------------------
  function readFile(file) {
    if (!file || !file.type.startsWith("image/")) {
      showError("that is not an image file");
      return;
    }
    const reader = new FileReader();
    reader.onload = () => setImage(reader.result, file.name);
    reader.readAsDataURL(file);
  }

  async function setImage(dataUrl, name) {
    state.image = dataUrl;
    state.imageName = name;
    clearResult();
    try {
      await paint([]);
      setStatus(`${name} ready`);
    } catch (error) {
      state.image = null;
      showError(error.message);
    }
  }

  async function useSample() {
    const response = await fetch("/static/sample-shapes.jpg");
    const blob = await response.blob();
    const reader = new FileReader();
    reader.onload = () => setImage(reader.result, "sample-shapes.jpg");
    reader.readAsDataURL(blob);
  }

  const base64Of = (dataUrl) => dataUrl.slice(dataUrl.indexOf(",") + 1);

  // ---- drawing ---------------------------------------------------------------------------
  async function paint(detectionLists, skeleton = []) {
    const canvas = $("canvas");
    const ctx = canvas.getContext("2d");
    const image = await D.loadImage(state.image);
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    ctx.drawImage(image, 0, 0);
    let drawn = 0;
    for (const list of detectionLists) drawn += D.drawDetections(ctx, list, skeleton);
    return { ctx, drawn };
  }

  function legend(items) {
    const box = $("legend");
    box.replaceChildren();
    for (const { id, name } of items) {
      const span = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = D.colour(id);
      span.append(swatch, document.createTextNode(name));
      box.append(span);
    }
  }

  function timings(rows) {
    const table = $("timings");
    table.replaceChildren();
    for (const [name, value] of rows) {
      if (value === null || value === undefined) continue;
      const tr = table.insertRow();
      tr.insertCell().textContent = name;
      tr.insertCell().textContent = value;
    }
  }

  function resetViews() {
    $("classes").replaceChildren();
    $("outputs").replaceChildren();
    $("timeline").replaceChildren();
    $("legend").replaceChildren();
    $("timings").replaceChildren();
    $("result-json").textContent = "";
  }

  // ---- running ---------------------------------------------------------------------------
  function modelRequest(model) {
    const body = {
      model_id: model.model_id,
      image: { type: "base64", value: base64Of(state.image) },
      confidence: Number($("confidence").value),
    };
    if (["object-detection", "instance-segmentation", "keypoint-detection"]
      .includes(model.task_type)) {
      body.iou_threshold = Number($("iou").value);
      body.max_detections = Number($("max-detections").value);
      body.class_agnostic_nms = $("agnostic").checked;
    }
    if (model.task_type === "keypoint-detection") {
      body.keypoint_confidence = Number($("keypoint-confidence").value);
    }
    return body;
  }

  async function runModel(model) {
    const { body, response, elapsedMs } = await api("POST", model.request_path,
      { json: modelRequest(model) });
    $("result-json").textContent = JSON.stringify(body, null, 2);
    let count;
    if (model.task_type === "classification") {
      await paint([]);
      count = D.drawBars($("classes"), D.classificationRows(body));
    } else if (model.task_type === "semantic-segmentation") {
      const { ctx } = await paint([]);
      const present = await D.drawSemantic(ctx, body.predictions);
      legend(present);
      count = present.length;
    } else {
      count = (await paint([body.predictions || []], model.skeleton || [])).drawn;
      const classes = new Map((body.predictions || []).map((p) => [p.class_id, p.class]));
      legend([...classes].map(([id, name]) => ({ id, name })));
    }
    const header = (name) => response.headers.get(name);
    timings([
      ["round trip", `${elapsedMs.toFixed(1)} ms`],
      ["server time", header("X-Processing-Time") && `${(Number(header("X-Processing-Time")) * 1000).toFixed(1)} ms`],
      ["model time", typeof body.time === "number" ? `${(body.time * 1000).toFixed(1)} ms` : null],
      ["cold start", header("X-Model-Cold-Start")],
      ["model load", header("X-Model-Cold-Start") === "true" ? `${(Number(header("X-Model-Load-Time")) * 1000).toFixed(1)} ms` : null],
    ]);
    return [count, model.task_type === "classification" ? "classes scored" : "predictions"];
  }

  async function runOcr() {
    const { body, elapsedMs } = await api("POST", "/ocr/pp-ocr", {
      json: { image: { type: "base64", value: base64Of(state.image) }, generate_bounding_boxes: true },
    });
    $("result-json").textContent = JSON.stringify(body, null, 2);
    const { drawn } = await paint([body.predictions || []]);
    timings([["round trip", `${elapsedMs.toFixed(1)} ms`], ["text", body.result]]);
    return [drawn, "words"];
  }

  // Detections anywhere in a workflow's outputs are drawn on the input image; images are shown.
  function walkOutputs(value, path, found) {
    if (Array.isArray(value)) {
      value.forEach((item, i) => walkOutputs(item, `${path}[${i}]`, found));
    } else if (value && typeof value === "object") {
      if (value.type === "base64" && typeof value.value === "string") {
        found.images.push({ path, src: `data:image/jpeg;base64,${value.value}` });
      } else if (Array.isArray(value.predictions) && value.predictions.some(D.isDetection)) {
        found.detections.push(value.predictions);
      } else {
        for (const [key, item] of Object.entries(value)) walkOutputs(item, path ? `${path}.${key}` : key, found);
      }
    } else {
      found.scalars.push({ path, value });
    }
  }

  async function runWorkflow(id) {
    const [workspace, name] = id.split("/");
    let extra;
    try {
      extra = JSON.parse($("workflow-extra").value || "{}");
    } catch {
      throw new Error("the other inputs are not a JSON object");
    }
    const inputs = { ...extra };
    for (const inputName of await workflowImageInputs(id)) {
      inputs[inputName] = { type: "base64", value: base64Of(state.image) };
    }
    const { body, elapsedMs } = await api("POST",
      `/${encodeURIComponent(workspace)}/workflows/${encodeURIComponent(name)}`,
      { json: { inputs, enable_profiling: $("profiling").checked } });
    const found = { images: [], detections: [], scalars: [] };
    walkOutputs(body.outputs, "", found);
    const { drawn } = await paint(found.detections);
    const box = $("outputs");
    const title = document.createElement("h3");
    title.textContent = "Workflow outputs";
    box.append(title);
    for (const { path, value } of found.scalars) {
      const line = document.createElement("div");
      line.textContent = `${path}: ${JSON.stringify(value)}`;
      box.append(line);
    }
    for (const { path, src } of found.images) {
      const caption = document.createElement("div");
      caption.textContent = path;
      const img = document.createElement("img");
      img.src = src;
      img.alt = path;
      box.append(caption, img);
    }
    D.drawTimeline($("timeline"), body.profiler_trace);
    const shown = { ...body };
    if (Array.isArray(shown.profiler_trace)) shown.profiler_trace = `${shown.profiler_trace.length} events (timeline above)`;
    $("result-json").textContent = JSON.stringify(shown, null, 2);
    timings([["round trip", `${elapsedMs.toFixed(1)} ms`]]);
    return [drawn, "predictions"];
  }

  async function run(event) {
    event.preventDefault();
    clearResult();
    resetViews();
    const choice = selected();
    if (!state.image) { showError("pick, drop or paste an image first (or use the sample)"); return; }
    if (!choice.kind) { showError("no model is available to this key"); return; }
    const button = $("run-button");
    button.disabled = true;
    setStatus("running…");
    try {
      let result;
      if (choice.kind === "model") {
        if (!choice.model) throw new Error(`model ${choice.id} is not in the catalog`);
        result = await runModel(choice.model);
      } else if (choice.kind === "workflow") {
        result = await runWorkflow(choice.id);
      } else {
        result = await runOcr();
      }
      setStatus("");
      showCount(result[0], result[1]);
    } catch (error) {
      showError(error.message);
    } finally {
      button.disabled = false;
    }
  }

  // ---- models page -----------------------------------------------------------------------
  function renderModelsPage() {
    const body = $("models-table").tBodies[0];
    body.replaceChildren();
    for (const m of state.catalog) {
      const row = body.insertRow();
      row.insertCell().textContent = m.model_id;
      row.insertCell().textContent = m.workspace;
      row.insertCell().textContent = m.task_type;
      const classes = row.insertCell();
      classes.className = "classes";
      classes.textContent = m.class_names.join(", ") || "—";
      row.insertCell().textContent = m.input_width ? `${m.input_width}×${m.input_height}` : "—";
      row.insertCell().textContent = m.versions.join(", ");
      row.insertCell().textContent = m.loaded ? "yes" : "no";
    }
    const list = $("workflow-list");
    list.replaceChildren();
    for (const w of state.workflows) {
      const item = document.createElement("li");
      item.textContent = `${w.workspace}/${w.workflow_id} — v${w.latest_version}, updated ${w.updated_at}`;
      list.append(item);
    }
  }

  function adminStatus(text, failed = false) {
    const line = $("admin-status");
    line.textContent = failed ? `error: ${text}` : text;
    line.classList.toggle("failed", failed);
  }

  async function upload(event) {
    event.preventDefault();
    const id = $("upload-id").value.trim();
    const file = $("upload-file").files[0];
    if (id.split("/").length !== 2) {
      adminStatus(`the model id is project/version, e.g. my-model/1 (got "${id}")`, true);
      return;
    }
    const form = new FormData();
    form.append("file", file);
    try {
      const { body } = await api("POST", `/models/${id.split("/").map(encodeURIComponent).join("/")}`, { form });
      adminStatus(`registered ${body.model_id} (${body.task_type}) in ${body.workspace}`);
      await loadCatalog();
    } catch (error) {
      adminStatus(error.message, true);
    }
  }

  async function push(event) {
    event.preventDefault();
    const name = $("push-id").value.trim();
    let definition;
    try {
      definition = JSON.parse($("push-definition").value);
    } catch {
      adminStatus("the definition is not valid JSON", true);
      return;
    }
    try {
      const { body: models } = await api("GET", "/models");
      const workspace = models.workspace || models.visible_workspaces[0];
      const { body } = await api("POST",
        `/${encodeURIComponent(workspace)}/workflows/${encodeURIComponent(name)}/versions`,
        { json: definition });
      adminStatus(`stored ${workspace}/${name} version ${body.version}`);
      await loadCatalog();
    } catch (error) {
      adminStatus(error.message, true);
    }
  }

  // ---- wiring ----------------------------------------------------------------------------
  function showPage(name) {
    document.querySelectorAll(".page").forEach((p) => { p.hidden = p.id !== `page-${name}`; });
    document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.dataset.page === name));
  }

  function init() {
    const key = $("api-key");
    key.value = sessionStorage.getItem(KEY_STORAGE) || "";
    key.addEventListener("change", () => {
      sessionStorage.setItem(KEY_STORAGE, key.value.trim());
      clearResult();
      loadCatalog();
    });
    document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => showPage(t.dataset.page)));
    $("model-select").addEventListener("change", selectionChanged);
    $("image-input").addEventListener("change", (e) => readFile(e.target.files[0]));
    $("sample-button").addEventListener("click", useSample);
    const drop = $("drop");
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      readFile(e.dataTransfer.files[0]);
    });
    document.addEventListener("paste", (e) => {
      const item = [...(e.clipboardData?.items || [])].find((i) => i.type.startsWith("image/"));
      if (item) readFile(item.getAsFile());
    });
    for (const [input, output] of [["confidence", "confidence-value"], ["iou", "iou-value"],
      ["keypoint-confidence", "kp-value"]]) {
      $(input).addEventListener("input", () => { $(output).textContent = Number($(input).value).toFixed(2); });
    }
    $("run-form").addEventListener("submit", run);
    $("upload-form").addEventListener("submit", upload);
    $("push-form").addEventListener("submit", push);
    loadCatalog();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
