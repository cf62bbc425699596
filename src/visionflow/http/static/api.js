// Same-origin calls to the visionflow API with the page's key (a Bearer header), shared by the
// playground's pages. Loaded first; exposes window.VisionflowApi.
"use strict";

(() => {
  function headers(extra = {}) {
    const key = document.getElementById("api-key").value.trim();
    return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
  }

  // The server's own message (``message``; FastAPI's 422 ``detail`` list), never a trace.
  function messageOf(status, body) {
    if (body && typeof body.message === "string") return body.message;
    if (body && Array.isArray(body.detail)) {
      return body.detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
    }
    if (body && typeof body.detail === "string") return body.detail;
    return `the server answered HTTP ${status}`;
  }

  // ``{body, response, elapsedMs}``; a non-2xx answer throws an Error with the server's message.
  async function api(method, path, { json, form } = {}) {
    const init = { method, headers: headers() };
    if (json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    } else if (form !== undefined) {
      init.body = form;
    }
    const started = performance.now();
    const response = await fetch(path, init);
    const elapsedMs = performance.now() - started;
    const text = await response.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch { body = null; }
    if (!response.ok) {
      const error = new Error(messageOf(response.status, body));
      error.body = body;
      error.status = response.status;
      throw error;
    }
    return { body, response, elapsedMs };
  }

  window.VisionflowApi = { api, headers, messageOf };
})();
