// The playground's stream page over the /inference_pipelines/* API: the workspace's pipelines
// with their status, a form that starts one, pause / resume / terminate, and a live view of the
// results a watched pipeline produces (consume polled, the latest result drawn and shown).
"use strict";

(() => {
  const D = window.VisionflowDraw;
  const { api } = window.VisionflowApi;
  const $ = (id) => document.getElementById(id);
  const LIST_EVERY_MS = 1500;
  const CONSUME_EVERY_MS = 250;
  const DRAIN_MAX = 32; // results taken per poll at most; the last one is shown
  const RESULTS_BUFFER = 64;
  const state = { watching: null, consumed: 0, listing: false, consuming: false, rows: new Map() };

  const short = (id) => id.slice(0, 8);
  const visible = () => !$("page-stream").hidden;

  // ---- messages --------------------------------------------------------------------------
  function setStatus(text) { $("stream-status").textContent = text; }

  function clearError() {
    document.querySelectorAll('[data-testid="stream-error"]').forEach((node) => node.remove());
  }

  function showError(message) {
    clearError();
    const box = document.createElement("div");
    box.className = "error";
    box.dataset.testid = "stream-error";
    box.textContent = message;
    $("stream-status").after(box);
  }

  // ---- the pipelines table -----------------------------------------------------------------
  // The row's cells and buttons by test hook (docs/playground.md lists them).
  const CELLS = ["pipeline-id", "pipeline-state", "pipeline-fps", "pipeline-frames",
    "pipeline-dropped", "pipeline-buffered", "pipeline-sources"];
  const ACTIONS = [["watch", "pipeline-watch"], ["pause", "pipeline-pause"],
    ["resume", "pipeline-resume"], ["terminate", "pipeline-terminate"]];

  function newRow(id) {
    const row = $("pipelines-table").tBodies[0].insertRow();
    row.dataset.testid = "pipeline-row";
    row.dataset.pipelineId = id;
    for (const testid of CELLS) row.insertCell().dataset.testid = testid;
    row.cells[0].textContent = short(id);
    row.cells[0].title = id;
    const actions = row.insertCell();
    for (const [action, testid] of ACTIONS) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = action;
      button.dataset.testid = testid;
      button.addEventListener("click", () => (action === "watch" ? watch(id) : act(id, action)));
      actions.append(button);
    }
    return row;
  }

  function fill(row, report) {
    const cell = (name) => row.cells[CELLS.indexOf(`pipeline-${name}`)];
    const pipelineState = report ? report.pipeline_state : "?";
    cell("state").textContent = pipelineState;
    cell("fps").textContent = report ? report.inference_throughput.toFixed(1) : "—";
    cell("frames").textContent = report ? String(report.frames_processed) : "—";
    cell("dropped").textContent = report ? String(report.frames_dropped) : "—";
    cell("buffered").textContent = report ? String(report.results_buffered) : "—";
    cell("sources").textContent = report
      ? report.sources_metadata.map((s) => `${s.source_reference}: ${s.state}`).join("; ")
      : "—";
    row.querySelector('[data-testid="pipeline-pause"]').disabled = pipelineState !== "RUNNING";
    row.querySelector('[data-testid="pipeline-resume"]').disabled = pipelineState !== "PAUSED";
    row.classList.toggle("watched", row.dataset.pipelineId === state.watching);
  }

  async function refreshList() {
    if (state.listing) return;
    state.listing = true;
    try {
      const { body } = await api("GET", "/inference_pipelines/list");
      const reports = await Promise.all(body.pipelines.map(async (id) => {
        try {
          return [id, (await api("GET", `/inference_pipelines/${encodeURIComponent(id)}/status`)).body.report];
        } catch {
          return [id, null]; // terminated between the list and its status
        }
      }));
      const listed = new Set(body.pipelines);
      for (const [id, row] of state.rows) {
        if (!listed.has(id)) { row.remove(); state.rows.delete(id); }
      }
      for (const [id, report] of reports) {
        if (!state.rows.has(id)) state.rows.set(id, newRow(id));
        fill(state.rows.get(id), report);
      }
      $("pipelines-empty").hidden = state.rows.size > 0;
    } catch (error) {
      showError(error.message);
    } finally {
      state.listing = false;
    }
  }

  async function act(id, action) {
    clearError();
    // Stop consuming first: a poll answered after the terminate would call the pipeline gone.
    const watched = action === "terminate" && state.watching === id;
    if (watched) stopWatching(`terminating ${short(id)}`);
    try {
      await api("POST", `/inference_pipelines/${encodeURIComponent(id)}/${action}`);
      setStatus(`${action}: ${short(id)} done`);
      if (watched) stopWatching(`${short(id)} terminated`);
    } catch (error) {
      showError(error.message);
      if (watched) watch(id);
    }
    await refreshList();
  }

  // ---- starting a pipeline -----------------------------------------------------------------
  function jsonObject(text, what) {
    let value;
    try { value = JSON.parse(text || "{}"); } catch { throw new Error(`${what} is not valid JSON`); }
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      throw new Error(`${what} is not a JSON object`);
    }
    return value;
  }

  function request() {
    const references = $("stream-video").value.split("\n").map((s) => s.trim()).filter(Boolean)
      .map((r) => (/^\d+$/.test(r) ? Number(r) : r)); // a bare number is a camera index
    if (!references.length) throw new Error("name a video file or stream URL first");
    const processing = {
      type: "WorkflowConfiguration",
      image_input_name: $("stream-image-input").value.trim() || "image",
      workflows_parameters: jsonObject($("stream-params").value, "the workflow parameters"),
    };
    const stored = $("stream-workflow").value;
    if (stored) {
      const [workspace, ...name] = stored.split("/");
      processing.workspace_name = workspace;
      processing.workflow_id = name.join("/");
    } else {
      const definition = jsonObject($("stream-spec").value, "the workflow definition");
      processing.workflow_specification = definition.specification ?? definition;
    }
    let mode = $("stream-buffer").value;
    if (mode === "auto") {
      mode = references.every((r) => typeof r === "string" && !r.includes("://")) ? "every" : "latest";
    }
    const video = {
      type: "VideoConfiguration",
      video_reference: references.length === 1 ? references[0] : references,
      source_buffer_filling_strategy: mode === "every" ? "WAIT" : "DROP_OLDEST",
      source_buffer_consumption_strategy: mode === "every" ? "LAZY" : "EAGER",
    };
    const maxFps = $("stream-max-fps").value.trim();
    if (maxFps) video.max_fps = Number(maxFps);
    return {
      video_configuration: video,
      processing_configuration: processing,
      sink_configuration: { type: "MemorySinkConfiguration", results_buffer_size: RESULTS_BUFFER },
    };
  }

  async function start(event) {
    event.preventDefault();
    clearError();
    const button = $("stream-start");
    button.disabled = true;
    try {
      const { body } = await api("POST", "/inference_pipelines/initialise", { json: request() });
      const id = body.context.pipeline_id;
      setStatus(`started ${short(id)}`);
      watch(id);
    } catch (error) {
      showError(error.message);
    } finally {
      button.disabled = false;
    }
    await refreshList();
  }

  // ---- the live view -----------------------------------------------------------------------
  function watch(id) {
    state.watching = id;
    state.consumed = 0;
    $("stream-watching").textContent = id;
    $("stream-result-count").textContent = "0";
    $("stream-frame-id").textContent = "—";
    $("stream-prediction-count").textContent = "0";
    $("stream-result-json").textContent = "";
    $("stream-classes").replaceChildren();
    for (const [rowId, row] of state.rows) row.classList.toggle("watched", rowId === id);
  }

  function stopWatching(why) {
    state.watching = null;
    $("stream-watching").textContent = `— (${why})`;
  }

  // Detections lists, images and the frame size found anywhere in one source's outputs.
  function walk(value, found) {
    if (Array.isArray(value)) {
      value.forEach((item) => walk(item, found));
    } else if (value && typeof value === "object") {
      if (value.type === "base64" && typeof value.value === "string") {
        found.images.push(`data:image/jpeg;base64,${value.value}`);
      } else if (Array.isArray(value.predictions) && value.predictions.some(D.isDetection)) {
        found.detections.push(value.predictions);
        if (value.image && value.image.width) found.size = value.image;
      } else {
        Object.values(value).forEach((item) => walk(item, found));
      }
    }
  }

  // Base64 images shortened in the JSON shown (they are drawn on the canvas instead).
  function abbreviated(key, value) {
    return key === "value" && this.type === "base64" && typeof value === "string"
      ? `<${value.length} characters>` : value;
  }

  // Draws the result, then updates the texts at once: what they say is what the canvas shows.
  async function show(result, id) {
    const index = Math.max(0, result.outputs.findIndex((o) => o !== null));
    const outputs = result.outputs[index];
    const frame = result.frames_metadata[index] || {};
    const found = { images: [], detections: [], size: null };
    walk(outputs, found);
    const predictions = found.detections.flat().filter(D.isDetection);
    const image = found.images.length ? await D.loadImage(found.images[0]) : null;
    if (state.watching !== id) return false; // another pipeline was picked meanwhile
    const canvas = $("stream-canvas");
    const ctx = canvas.getContext("2d");
    if (image) { // the workflow's own visualisation of the frame
      canvas.width = image.naturalWidth;
      canvas.height = image.naturalHeight;
      ctx.drawImage(image, 0, 0);
    } else {
      canvas.width = found.size?.width || 640;
      canvas.height = found.size?.height || 360;
      ctx.fillStyle = "#222";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      for (const list of found.detections) D.drawDetections(ctx, list);
    }
    const perClass = new Map();
    for (const p of predictions) perClass.set(p.class, (perClass.get(p.class) || 0) + 1);
    $("stream-classes").replaceChildren(...[...perClass].map(([name, count]) => {
      const span = document.createElement("span");
      span.textContent = `${name} × ${count}`;
      return span;
    }));
    $("stream-frame-id").textContent = frame.frame_id ?? "—";
    $("stream-prediction-count").textContent = String(predictions.length);
    $("stream-result-json").textContent = JSON.stringify({ frame, outputs }, abbreviated, 2);
    return true;
  }

  async function consume() {
    const id = state.watching;
    if (!id || state.consuming) return;
    state.consuming = true;
    try {
      let latest = null;
      let got = 0;
      for (let i = 0; i < DRAIN_MAX; i += 1) {
        const { body } = await api("GET", `/inference_pipelines/${encodeURIComponent(id)}/consume`);
        if (!body.outputs || !body.outputs.length) break;
        got += 1;
        latest = body;
      }
      if (latest && state.watching === id && await show(latest, id)) {
        state.consumed += got;
        $("stream-result-count").textContent = String(state.consumed);
      }
    } catch (error) {
      if (state.watching !== id) return; // no longer watched: nothing to say about it
      if (error.status === 404) stopWatching(`${short(id)} is gone`);
      else showError(error.message);
    } finally {
      state.consuming = false;
    }
  }

  // ---- wiring ----------------------------------------------------------------------------
  function offerWorkflows(workflows) {
    const select = $("stream-workflow");
    const previous = select.value;
    [...select.options].slice(1).forEach((option) => option.remove());
    for (const w of workflows) {
      const id = `${w.workspace}/${w.workflow_id}`;
      select.append(new Option(`${id} — v${w.latest_version}`, id));
    }
    if ([...select.options].some((o) => o.value === previous)) select.value = previous;
    $("stream-spec-label").hidden = select.value !== "";
  }

  function init() {
    $("stream-form").addEventListener("submit", start);
    $("stream-workflow").addEventListener("change", () => {
      $("stream-spec-label").hidden = $("stream-workflow").value !== "";
    });
    document.querySelector('.tab[data-page="stream"]').addEventListener("click", refreshList);
    $("api-key").addEventListener("change", () => { clearError(); refreshList(); });
    document.addEventListener("visionflow:catalog", (e) => offerWorkflows(e.detail.workflows));
    setInterval(() => { if (visible()) refreshList(); }, LIST_EVERY_MS);
    setInterval(consume, CONSUME_EVERY_MS);
  }

  document.addEventListener("DOMContentLoaded", init);
})();
