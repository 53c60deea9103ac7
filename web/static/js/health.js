// The fleet page (live, sortable table) and the device page (24 h charts drawn as inline SVG).
"use strict";
(function () {
  const STATUS = {
    online: ["online", "badge-ok"],
    stale: ["sem relatório recente", "badge-warn"],
    offline: ["offline", "badge-danger"],
  };
  const SVG_NS = "http://www.w3.org/2000/svg";

  function text(value, suffix = "") {
    return value === null || value === undefined ? "—" : `${value}${suffix}`;
  }
  // pt-BR separators (Stockflow.formatNumber, as web/formats.py's `numero`).
  function number(value, digits, suffix) {
    return value === null || value === undefined ? "—" : `${Stockflow.formatNumber(value, digits)}${suffix}`;
  }
  const POWER = [
    ["subtensao", "Subtensão"],
    ["frequencia_limitada", "Frequência da CPU limitada"],
    ["estrangulado", "CPU estrangulada"],
    ["limite_temperatura", "Limite suave de temperatura"],
  ];
  function wifi(d) {
    if (!d.wifi_status) return "—";
    const status = d.wifi_status === "connected" ? "conectado" : d.wifi_status === "disconnected" ? "desconectado" : d.wifi_status;
    return d.wifi_signal_dbm === null || d.wifi_signal_dbm === undefined ? status : `${status} (${d.wifi_signal_dbm} dBm)`;
  }
  function badge(status) {
    const [label, cls] = STATUS[status] || [status, ""];
    const span = document.createElement("span");
    span.className = `badge ${cls}`;
    span.textContent = label;
    return span;
  }
  function cell(row, content, cls) {
    const td = row.insertCell();
    if (cls) td.className = cls;
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
    return td;
  }

  // --- the fleet table -------------------------------------------------------------------
  function initFleet(table) {
    const devices = new Map();
    for (const d of JSON.parse(document.getElementById("fleet-data").textContent)) devices.set(d.id, d);
    const sort = { key: "severity", dir: -1 };
    let flashed = new Set();
    let scheduled = false;

    function value(d, key) {
      const v = d[key];
      return v === null || v === undefined ? null : v;
    }
    function compare(a, b) {
      const va = value(a, sort.key), vb = value(b, sort.key);
      if (va !== vb) {
        if (va === null) return 1;  // empty values last, whatever the direction
        if (vb === null) return -1;
        const order = typeof va === "number" && typeof vb === "number" ? va - vb : String(va).localeCompare(String(vb), "pt-BR");
        if (order) return order * sort.dir;
      }
      return (b.severity - a.severity) || a.id.localeCompare(b.id, "pt-BR");
    }
    function render() {
      scheduled = false;
      const tbody = table.tBodies[0];
      tbody.replaceChildren();
      const rows = Array.from(devices.values()).sort(compare);
      for (const d of rows) {
        const row = tbody.insertRow();
        row.dataset.id = d.id;
        row.className = `sev-${d.severity}` + (flashed.has(d.id) ? " flash" : "");
        const link = document.createElement("a");
        link.href = `/dispositivos/${encodeURIComponent(d.id)}`;
        link.textContent = d.id;
        cell(row, link);
        cell(row, text(d.store_key));
        cell(row, badge(d.status)).dataset.status = d.status;
        cell(row, number(d.cpu_temp_c, 1, " °C"), "num");
        cell(row, number(d.mem_percent, 0, "%"), "num");
        cell(row, wifi(d));
        cell(row, number(d.spool_depth, 0, ""), "num");
        cell(row, Stockflow.formatDateTime(d.last_update));
        cell(row, d.problems.join(" · "), "problems");
      }
      flashed = new Set();
      document.getElementById("fleet-empty").classList.toggle("hidden", rows.length > 0);
      const counts = { online: 0, stale: 0, offline: 0, sick: 0 };
      for (const d of rows) { counts[d.status] += 1; if (d.severity === 2) counts.sick += 1; }
      const labels = { online: "online", stale: "sem relatório recente", offline: "offline", sick: "com problema" };
      for (const [key, label] of Object.entries(labels)) {
        document.querySelector(`[data-count="${key}"]`).textContent = `${counts[key]} ${label}`;
      }
      for (const th of table.tHead.querySelectorAll("th.sortable")) {
        th.classList.toggle("sorted-asc", th.dataset.key === sort.key && sort.dir === 1);
        th.classList.toggle("sorted-desc", th.dataset.key === sort.key && sort.dir === -1);
      }
    }
    function schedule() {
      if (!scheduled) { scheduled = true; requestAnimationFrame(render); }
    }

    for (const th of table.tHead.querySelectorAll("th.sortable")) {
      th.addEventListener("click", () => {
        sort.dir = sort.key === th.dataset.key ? -sort.dir : (th.dataset.key === "severity" ? -1 : 1);
        sort.key = th.dataset.key;
        render();
      });
    }
    async function reload() {
      const body = await Stockflow.api("/api/dispositivos");
      devices.clear();
      for (const d of body.devices) devices.set(d.id, d);
      schedule();
    }
    Stockflow.subscribe("devices", {
      devices: (data) => {
        for (const d of data.devices) {
          const known = devices.get(d.id);
          // Events may arrive out of order after a replay: never go back to an older report.
          if (known && known.reported_at > d.reported_at && known.status === d.status) continue;
          devices.set(d.id, d);
          flashed.add(d.id);
        }
        schedule();
      },
      gap: () => { reload().catch(() => {}); },
    }, table.dataset.since);
    render();
  }

  // --- the device page ---------------------------------------------------------------------
  // The chart is drawn in the SVG's own pixels (viewBox = its size), so the axis labels are
  // the 12 px the stylesheet says, whatever the width the layout gives it.
  function drawChart(svg, samples, field, unit) {
    const width = Math.max(240, Math.round(svg.clientWidth || 600)), height = 180;
    const left = 56, right = 12, top = 12, bottom = 26;
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.replaceChildren();
    const end = Date.now(), start = end - 24 * 3600 * 1000;
    const points = samples.filter((s) => s[field] !== null && s[field] !== undefined)
      .map((s) => [Date.parse(s.at), Number(s[field])]).filter(([t]) => t >= start);
    const add = (name, attrs, content) => {
      const el = document.createElementNS(SVG_NS, name);
      for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
      if (content !== undefined) el.textContent = content;
      svg.appendChild(el);
      return el;
    };
    add("line", { class: "axis", x1: left, y1: height - bottom, x2: width - right, y2: height - bottom });
    add("line", { class: "axis", x1: left, y1: top, x2: left, y2: height - bottom });
    for (const [hoursAgo, anchor] of [[24, "start"], [12, "middle"], [0, "end"]]) {
      const x = left + (width - left - right) * (1 - hoursAgo / 24);
      add("text", { class: "tick", x, y: height - 6, "text-anchor": anchor }, hoursAgo ? `-${hoursAgo} h` : "agora");
    }
    if (!points.length) {
      add("text", { class: "empty", x: width / 2, y: height / 2, "text-anchor": "middle" }, "sem dados nas últimas 24 h");
      return;
    }
    let min = Math.min(...points.map((p) => p[1])), max = Math.max(...points.map((p) => p[1]));
    if (field === "spool_depth" || field === "mem_percent") min = 0;
    if (max === min) max = min + 1;
    const x = (t) => left + (width - left - right) * (t - start) / (end - start);
    const y = (v) => top + (height - top - bottom) * (1 - (v - min) / (max - min));
    add("text", { class: "tick", x: left - 6, y: top + 10, "text-anchor": "end" }, `${Stockflow.formatNumber(Math.round(max))}${unit}`);
    add("text", { class: "tick", x: left - 6, y: height - bottom, "text-anchor": "end" }, `${Stockflow.formatNumber(Math.round(min))}${unit}`);
    // A silence longer than 10 minutes breaks the line (the device was off or offline).
    let path = "", previous = null;
    for (const [t, v] of points) {
      path += `${previous === null || t - previous > 600000 ? "M" : "L"}${x(t).toFixed(1)},${y(v).toFixed(1)} `;
      previous = t;
    }
    add("path", { class: "line", d: path.trim() });
    const [lastT, lastV] = points[points.length - 1];
    add("circle", { cx: x(lastT), cy: y(lastV), r: 2.5, fill: "currentColor" });
  }

  function initDevice(container) {
    let device = JSON.parse(document.getElementById("device-data").textContent);
    const samples = JSON.parse(document.getElementById("history-data").textContent);

    function renderNow() {
      const status = document.getElementById("device-status");
      const [label, cls] = STATUS[device.status] || [device.status, ""];
      status.className = `badge ${cls}`;
      status.textContent = label;
      const items = [
        ["Loja", text(device.store_key)],
        ["CPU", `${number(device.cpu_temp_c, 1, " °C")} · ${number(device.cpu_percent, 0, "% em uso")}`],
        ["Memória", `${text(device.mem_usage)} (${number(device.mem_percent, 0, "%")})`],
        ["Wi-Fi", wifi(device)],
        ["Fila", device.spool_depth ? `${Stockflow.formatNumber(device.spool_depth)} leitura(s), a mais antiga de ${Stockflow.formatDateTime(device.spool_oldest_at)}` : text(device.spool_depth)],
        ["Agente", text(device.agent_version)],
        ["Ligado há", device.uptime_s === null || device.uptime_s === undefined ? "—" : `${Math.floor(device.uptime_s / 3600)} h ${Math.floor(device.uptime_s % 3600 / 60)} min`],
        ["Último relatório", Stockflow.formatDateTime(device.reported_at)],
        ["Problemas", device.problems.length ? device.problems.join(" · ") : "nenhum"],
      ];
      const dl = document.getElementById("device-now");
      dl.replaceChildren();
      for (const [term, description] of items) {
        const dt = document.createElement("dt"); dt.textContent = term;
        const dd = document.createElement("dd"); dd.textContent = description;
        dl.append(dt, dd);
      }
      renderPower();
    }
    function renderPower() {
      const tbody = document.querySelector("#device-power tbody");
      tbody.replaceChildren();
      const state = device.energia;
      for (const [key, label] of POWER) {
        const row = tbody.insertRow();
        row.dataset.condition = key;
        cell(row, label);
        for (const when of ["agora", "desde_boot"]) {
          const on = state ? state[when].includes(key) : null;
          const span = document.createElement("span");
          span.className = on === null ? "muted" : on ? "badge badge-danger" : "badge badge-ok";
          span.textContent = on === null ? "—" : on ? "sim" : "não";
          cell(row, span).dataset.when = when;
        }
      }
    }
    function initLimits() {
      const form = document.getElementById("device-limits");
      if (!form || form.dataset.readonly) return;
      const message = document.getElementById("limits-message");
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const body = {};
        for (const input of form.querySelectorAll("input[name]")) {
          body[input.name] = input.value === "" ? null : Number(input.value);
        }
        try {
          const answer = await Stockflow.api(`/api/dispositivos/${encodeURIComponent(container.dataset.id)}/limites`,
                                             { method: "PUT", json: body });
          device = Object.assign({}, device, answer.device);
          for (const name of Object.keys(body)) {
            const own = device.limites.proprios.includes(name);
            form.querySelector(`[data-limit-source="${name}"]`).textContent = own
              ? "deste dispositivo" : "padrão: " + Stockflow.formatNumber(device.limites.valores[name]);
          }
          message.textContent = "Limites salvos.";
          renderNow();
        } catch (error) {
          message.textContent = `Erro: ${error.message}`;
        }
      });
    }
    function renderCharts() {
      for (const svg of document.querySelectorAll("svg.chart")) {
        drawChart(svg, samples, svg.dataset.field, svg.dataset.unit);
      }
    }
    Stockflow.subscribe("devices", {
      devices: (data) => {
        for (const d of data.devices) {
          if (d.id !== container.dataset.id) continue;
          const isNewReport = d.reported_at > device.reported_at;
          if (d.reported_at < device.reported_at) continue;
          device = Object.assign({}, device, d);
          if (isNewReport) {
            samples.push({ at: d.reported_at, cpu_temp_c: d.cpu_temp_c, mem_percent: d.mem_percent, spool_depth: d.spool_depth });
            renderCharts();
          }
          renderNow();
        }
      },
    }, container.dataset.since);
    let resizing = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(renderCharts, 150);
    });
    initLimits();
    renderNow();
    renderCharts();
  }

  const fleet = document.getElementById("fleet");
  if (fleet) initFleet(fleet);
  const device = document.getElementById("device");
  if (device) initDevice(device);
})();
