// Shared by every page: CSRF-aware fetch and a reconnecting SSE subscription.
"use strict";
// Widths the server renders (a progress bar's): the Content-Security-Policy allows no
// style="..." attribute, so the template says data-width="42" and this sets it.
for (const node of document.querySelectorAll("[data-width]")) {
  node.style.width = `${node.dataset.width}%`;
}

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

  // One stream for a page that watches a changing set of channels (a browser opens at most 6
  // connections per site): reopened with each channel's cursor whenever the set changes.
  // handlers[type](data, channel, event); a channel added with "0-0" replays its retained log.
  function multiplex(handlers) {
    const cursors = new Map();
    let source = null;
    function open() {
      if (source) source.close();
      source = null;
      const names = [...cursors.keys()];
      if (!names.length) return;
      const params = names.map((name) => `channel=${encodeURIComponent(name)}`);
      params.push(`last_event_id=${encodeURIComponent(names.map((name) => cursors.get(name)).join(","))}`);
      source = new EventSource(`/stream?${params.join("&")}`);
      for (const [type, handler] of Object.entries(handlers)) {
        source.addEventListener(type, (event) => {
          // the id holds one cursor per channel, in the URL's order
          event.lastEventId.split(",").forEach((id, i) => {
            if (id && cursors.has(names[i])) cursors.set(names[i], id);
          });
          const parsed = JSON.parse(event.data);
          // a stream of one channel sends the payload itself; of several, {channel, data}
          if (names.length === 1) handler(parsed, names[0], event);
          else handler(parsed.data, parsed.channel, event);
        });
      }
    }
    return {
      add(channel, since = "0-0") {
        if (!cursors.has(channel)) { cursors.set(channel, since); open(); }
      },
      remove(channel) {
        if (cursors.delete(channel)) open();
      },
    };
  }

  // The same rules as web/formats.py: dd/mm/aaaa hh:mm, R$ 1.234,56, KB/MB/GB, 1.234,5.
  const TIME_ZONE = document.documentElement.dataset.timezone || "America/Sao_Paulo";

  function formatDateTime(iso) {
    if (!iso) return "—";
    const when = new Date(iso);
    if (Number.isNaN(when.getTime())) return String(iso);
    return when.toLocaleString("pt-BR", {
      timeZone: TIME_ZONE, day: "2-digit", month: "2-digit", year: "numeric",
      hour: "2-digit", minute: "2-digit",
    }).replace(",", "");
  }

  function formatDate(iso) {
    if (!iso) return "—";
    const [y, m, d] = String(iso).slice(0, 10).split("-");
    return d && m && y ? `${d}/${m}/${y}` : String(iso);
  }

  function formatNumber(n, digits) {
    if (n === null || n === undefined || n === "") return "—";
    const options = digits === undefined ? { maximumFractionDigits: 3 }
      : { minimumFractionDigits: digits, maximumFractionDigits: digits };
    return Number(n).toLocaleString("pt-BR", options);
  }

  function formatMoney(n) {
    if (n === null || n === undefined || n === "") return "—";
    // a plain space after R$, as the server's `dinheiro` filter writes it
    return Number(n).toLocaleString("pt-BR", { style: "currency", currency: "BRL" }).replace(/\u00a0/g, " ");
  }

  function formatBytes(n) {
    if (n === null || n === undefined || n === "") return "—";
    const units = ["bytes", "KB", "MB", "GB", "TB"];
    let size = Number(n);
    let unit = 0;
    while (Math.abs(size) >= 1024 && unit < units.length - 1) { size /= 1024; unit += 1; }
    return unit === 0 ? `${size} bytes` : `${formatNumber(size, 1)} ${units[unit]}`;
  }

  return { api, subscribe, multiplex, csrf, formatDateTime, formatDate, formatNumber,
           formatMoney, formatBytes };
})();
