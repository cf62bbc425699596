// Drawing predictions (the server's JSON) on a canvas. Every draw* function returns how many
// predictions it drew. Loaded before playground.js; exposes window.VisionflowDraw.
"use strict";

(() => {
  const PALETTE = ["#ff6b6b", "#4dabf7", "#ffd43b", "#69db7c", "#da77f2", "#ffa94d",
    "#38d9a9", "#f783ac", "#a9e34b", "#748ffc", "#ff8787", "#66d9e8"];

  const colour = (id) => PALETTE[Math.abs(Number(id) || 0) % PALETTE.length];

  function rgba(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  function label(ctx, text, x, y, fill) {
    ctx.font = "bold 13px system-ui, sans-serif";
    const width = ctx.measureText(text).width + 8;
    const top = Math.max(0, y - 18);
    ctx.fillStyle = fill;
    ctx.fillRect(x, top, width, 18);
    ctx.fillStyle = "#000";
    ctx.fillText(text, x + 4, top + 13);
  }

  const isDetection = (p) => p && typeof p === "object" && ["x", "y", "width", "height"]
    .every((k) => typeof p[k] === "number");

  // Boxes, instance outlines (polygons), keypoints and the skeleton, OCR words (their text is
  // the class). ``skeleton``: [[a, b], ...] keypoint ids, from GET /models.
  function drawDetections(ctx, predictions, skeleton = []) {
    let drawn = 0;
    const stroke = Math.max(2, Math.round(ctx.canvas.width / 400));
    for (const p of predictions) {
      if (!isDetection(p)) continue;
      const fill = colour(p.class_id);
      const x0 = p.x - p.width / 2;
      const y0 = p.y - p.height / 2;
      if (Array.isArray(p.points) && p.points.length > 2) {
        ctx.beginPath();
        p.points.forEach((pt, i) => (i ? ctx.lineTo(pt.x, pt.y) : ctx.moveTo(pt.x, pt.y)));
        ctx.closePath();
        ctx.fillStyle = rgba(fill, 0.35);
        ctx.fill();
      }
      ctx.lineWidth = stroke;
      ctx.strokeStyle = fill;
      ctx.strokeRect(x0, y0, p.width, p.height);
      if (Array.isArray(p.keypoints)) drawKeypoints(ctx, p.keypoints, skeleton, fill, stroke);
      const score = typeof p.confidence === "number" ? ` ${p.confidence.toFixed(2)}` : "";
      label(ctx, `${p.class ?? p.class_id ?? "?"}${score}`, x0, y0, fill);
      drawn += 1;
    }
    return drawn;
  }

  function drawKeypoints(ctx, keypoints, skeleton, fill, stroke) {
    const byId = new Map(keypoints.map((k) => [k.class_id, k]));
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = Math.max(1, stroke - 1);
    for (const [a, b] of skeleton) {
      const ka = byId.get(a);
      const kb = byId.get(b);
      if (!ka || !kb) continue;
      ctx.beginPath();
      ctx.moveTo(ka.x, ka.y);
      ctx.lineTo(kb.x, kb.y);
      ctx.stroke();
    }
    for (const k of keypoints) {
      ctx.beginPath();
      ctx.arc(k.x, k.y, stroke + 2, 0, 2 * Math.PI);
      ctx.fillStyle = fill;
      ctx.fill();
      ctx.strokeStyle = "#000";
      ctx.stroke();
    }
  }

  function loadImage(src) {
    return new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => resolve(image);
      image.onerror = () => reject(new Error("the image could not be decoded"));
      image.src = src;
    });
  }

  // The class map (a PNG of class ids, stretched to the image) as a translucent overlay; one
  // prediction per class present.
  async function drawSemantic(ctx, predictions) {
    const mask = await loadImage(`data:image/png;base64,${predictions.segmentation_mask}`);
    const off = document.createElement("canvas");
    off.width = mask.width;
    off.height = mask.height;
    const octx = off.getContext("2d");
    octx.drawImage(mask, 0, 0);
    const pixels = octx.getImageData(0, 0, off.width, off.height);
    const data = pixels.data;
    const present = new Set();
    for (let i = 0; i < data.length; i += 4) {
      const id = data[i];
      present.add(id);
      const hex = colour(id);
      const n = parseInt(hex.slice(1), 16);
      data[i] = (n >> 16) & 255;
      data[i + 1] = (n >> 8) & 255;
      data[i + 2] = n & 255;
      data[i + 3] = id === 0 && predictions.class_map?.["0"] === "background" ? 0 : 110;
    }
    octx.putImageData(pixels, 0, 0);
    ctx.drawImage(off, 0, 0, ctx.canvas.width, ctx.canvas.height);
    const ids = Array.isArray(predictions.present_class_ids)
      ? predictions.present_class_ids : [...present];
    return ids.map((id) => ({ id, name: predictions.class_map?.[String(id)] ?? String(id) }));
  }

  // Classification scores as bars (single- and multi-label bodies).
  function classificationRows(body) {
    const predictions = body.predictions;
    if (Array.isArray(predictions)) {
      return predictions.map((p) => ({ name: p.class, confidence: p.confidence }));
    }
    return Object.entries(predictions || {}).map(([name, p]) => ({
      name, confidence: p.confidence,
    })).sort((a, b) => b.confidence - a.confidence);
  }

  function drawBars(container, rows) {
    container.replaceChildren();
    for (const row of rows) {
      const line = document.createElement("div");
      line.className = "bar";
      const name = document.createElement("span");
      name.textContent = row.name;
      const track = document.createElement("div");
      const fill = document.createElement("div");
      fill.className = "fill";
      fill.style.width = `${Math.round(Math.max(0, Math.min(1, row.confidence)) * 100)}%`;
      track.append(fill);
      const value = document.createElement("span");
      value.textContent = row.confidence.toFixed(3);
      line.append(name, track, value);
      container.append(line);
    }
    return rows.length;
  }

  // Profiler trace events (``X`` with ``dur``, or ``B``/``E`` pairs; µs) as a timeline.
  function drawTimeline(container, events) {
    container.replaceChildren();
    const spans = [];
    const open = new Map();
    for (const e of events || []) {
      if (e.ph === "X") spans.push({ name: e.name, start: e.ts, end: e.ts + (e.dur || 0) });
      else if (e.ph === "B") open.set(e.name, e.ts);
      else if (e.ph === "E" && open.has(e.name)) {
        spans.push({ name: e.name, start: open.get(e.name), end: e.ts });
        open.delete(e.name);
      }
    }
    if (!spans.length) return 0;
    const t0 = Math.min(...spans.map((s) => s.start));
    const total = Math.max(1, Math.max(...spans.map((s) => s.end)) - t0);
    const title = document.createElement("h3");
    title.textContent = `Profiler trace (${(total / 1000).toFixed(1)} ms)`;
    container.append(title);
    for (const s of spans.sort((a, b) => a.start - b.start)) {
      const row = document.createElement("div");
      row.className = "row";
      const name = document.createElement("span");
      name.textContent = `${s.name} — ${((s.end - s.start) / 1000).toFixed(2)} ms`;
      const track = document.createElement("div");
      track.className = "track";
      const bar = document.createElement("div");
      bar.className = "span";
      bar.style.left = `${((s.start - t0) / total) * 100}%`;
      bar.style.width = `${((s.end - s.start) / total) * 100}%`;
      track.append(bar);
      row.append(name, track);
      container.append(row);
    }
    return spans.length;
  }

  window.VisionflowDraw = {
    colour, isDetection, drawDetections, drawSemantic, classificationRows, drawBars,
    drawTimeline, loadImage,
  };
})();
