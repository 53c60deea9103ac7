// Shared by every page: CSRF-aware fetch and a reconnecting SSE subscription.
"use strict";
window.Stockflow = (function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  async function api(url, options = {}) {
    const opts = Object.assign({ credentials: "same-origin", headers: {} }, options);
    opts.headers = Object.assign({ "Accept": "application/json", "X-CSRFToken": csrf }, opts.headers);
    if (opts.json !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(opts.json);
      delete opts.json;
    }
    const response = await fetch(url, opts);
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const error = new Error((body && body.error) || `Erro ${response.status}`);
      error.status = response.status; error.body = body;
      throw error;
    }
    return body;
  }

  // EventSource resends Last-Event-ID by itself when it reconnects, and the server
  // replays what was missed. `since` "0-0" replays the channel's retained log on first connect.
  function subscribe(channel, handlers, since) {
    let url = `/stream?channel=${encodeURIComponent(channel)}`;
    if (since) url += `&last_event_id=${encodeURIComponent(since)}`;
    const source = new EventSource(url);
    for (const [type, handler] of Object.entries(handlers)) {
      source.addEventListener(type, (event) => handler(JSON.parse(event.data), event));
    }
    return source;
  }

  function formatDateTime(iso) {
    if (!iso) return "—";
    return new Date(iso).toLocaleString("pt-BR");
  }

  return { api, subscribe, csrf, formatDateTime };
})();
