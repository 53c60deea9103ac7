// The operations overview: the figures the page came with, then live over SSE (one block per
// channel overview:<block>; on overview:operacao, "workers" and "falhas" events update the
// liveness and the dead-letter figures alone).
"use strict";
(function () {
  const root = document.getElementById("overview");
  if (!root) return;
  const blocks = JSON.parse(root.dataset.blocks || "{}");
  const cursors = JSON.parse(root.dataset.cursors || "{}");
  const links = JSON.parse(root.dataset.links || "{}");
  const SVG = "http://www.w3.org/2000/svg";
  const fmt = Stockflow.formatNumber;

  function el(tag, attrs = {}, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function link(text, href) {
    if (!href) return document.createTextNode(text);
    return el("a", { href }, text);
  }

  function setField(section, field, text, state) {
    const value = section.querySelector(`[data-field="${field}"]`);
    if (!value) return;
    value.textContent = text;
    const figure = value.closest(".figure");
    figure.classList.toggle("bad", state === "bad");
    figure.classList.toggle("good", state === "good");
  }

  // Each figure links to where it is acted on (absent for a role that may not open it).
  function wireLinks(section) {
    for (const figure of section.querySelectorAll("[data-link]")) {
      const href = links[figure.dataset.link];
      if (!href) continue;
      figure.setAttribute("href", figure.dataset.query ? `${href}?${figure.dataset.query}` : href);
    }
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    if (seconds < 3600) return `${fmt(Math.round(seconds / 60))} min`;
    if (seconds < 172800) return `${fmt(Math.floor(seconds / 3600))} h ${fmt(Math.round((seconds % 3600) / 60))} min`;
    return `${fmt(Math.floor(seconds / 86400))} dias`;
  }

  function fillRows(table, rows) {
    const body = table.querySelector("tbody");
    body.replaceChildren(...rows);
    if (!rows.length) {
      const cols = table.querySelectorAll("thead th").length;
      const empty = el("tr");
      empty.append(el("td", { colspan: String(cols), class: "muted" }, "Nenhum."));
      body.append(empty);
    }
  }

  // A bar chart of 24 hourly values, drawn as inline SVG (no library, CSP script-src 'self').
  function barChart(figure, series, extraClass) {
    figure.querySelector("svg")?.remove();
    // one SVG unit per CSS pixel, so the 12px labels stay 12px whatever the chart's width
    const width = Math.max(240, Math.round(figure.clientWidth) || 480), height = 180;
    const left = 40, bottom = 24, top = 10;
    figure.chartArgs = [series, extraClass];
    const values = series.map((point) => point.valor || 0);
    const max = Math.max(1, ...values);
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("role", "img");
    const plotW = width - left - 4, plotH = height - top - bottom;
    const step = plotW / series.length;
    function add(tag, attrs, text) {
      const node = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      if (text !== undefined) node.textContent = text;
      svg.append(node);
      return node;
    }
    add("line", { x1: left, y1: top + plotH, x2: width, y2: top + plotH, class: "axis" });
    add("line", { x1: left, y1: top, x2: left, y2: top + plotH, class: "axis" });
    add("text", { x: left - 4, y: top + 10, "text-anchor": "end", class: "tick" }, fmt(max));
    add("text", { x: left - 4, y: top + plotH, "text-anchor": "end", class: "tick" }, "0");
    series.forEach((point, i) => {
      const value = point.valor || 0;
      const h = (value / max) * plotH;
      const bar = add("rect", { x: left + i * step + 1, y: top + plotH - h, width: Math.max(1, step - 2),
                                height: h, class: `bar ${extraClass || ""}` });
      const when = Stockflow.formatDateTime(point.hora);
      bar.append(Object.assign(document.createElementNS(SVG, "title"),
        { textContent: `${when}: ${point.valor === null ? "sem amostra" : fmt(value)}` }));
      if (i % 4 === 0 || i === series.length - 1) {
        add("text", { x: left + i * step + step / 2, y: height - 6, "text-anchor": "middle", class: "tick" },
            `${when.slice(11, 13)}h`);
      }
    });
    svg.setAttribute("aria-label", `${figure.querySelector("figcaption").textContent}: máximo ${fmt(max)}`);
    figure.append(svg);
  }

  // The page judges staleness too: a heartbeat that stops coming shows as stopped even when
  // nothing publishes (the worker that ran the periodic publish may be the one that died).
  let liveness = null;
  function judged(data) {
    const serverNow = Date.now() + liveness.offset;
    const fresh = (iso) => Boolean(iso) && serverNow - Date.parse(iso) <= data.parado_apos_s * 1000;
    const workers = data.workers.map((w) => Object.assign({}, w, { vivo: w.vivo && fresh(w.visto_em) }));
    const consumidores = {};
    for (const queue of Object.keys(data.consumidores)) {
      consumidores[queue] = workers.filter((w) => w.vivo && w.filas.includes(queue)).length;
    }
    return Object.assign({}, data, { workers, consumidores,
      beat: Object.assign({}, data.beat, { vivo: data.beat.vivo && fresh(data.beat.visto_em) }) });
  }
  function receiveLiveness(section, data) {
    liveness = { data, offset: Date.parse(data.agora) - Date.now() };
    renderWorkers(section, judged(data));
  }
  setInterval(() => {
    if (liveness) renderWorkers(document.getElementById("block-operacao"), judged(liveness.data));
  }, 5000);

  function renderWorkers(section, data) {
    const alive = data.workers.filter((w) => w.vivo).length;
    // a worker shut down on purpose (deploy, scale-down) is not one missing
    const expected = data.workers.filter((w) => w.vivo || !w.encerrado).length;
    setField(section, "workers", `${fmt(alive)} de ${fmt(expected)}`,
             alive < expected || !alive ? "bad" : "good");
    setField(section, "beat", data.beat.vivo ? "ativo" : "parado", data.beat.vivo ? "good" : "bad");
    fillRows(section.querySelector("#workers"), data.workers.map((w) => {
      const row = el("tr", { "data-worker": w.hostname, class: w.vivo ? "" : "stopped" });
      const state = w.vivo ? "" : w.encerrado ? " (encerrado)" : " (parado)";
      row.append(el("td", { class: w.vivo || w.encerrado ? "" : "bad" }, `${w.hostname}${state}`),
                 el("td", {}, w.filas.join(", ")), el("td", {}, Stockflow.formatDateTime(w.visto_em)));
      return row;
    }));
    for (const row of section.querySelectorAll("#queues tbody tr[data-queue]")) {
      const consumers = data.consumidores[row.dataset.queue];
      if (consumers === undefined) continue;
      const cell = row.querySelector("[data-consumers]");
      cell.textContent = fmt(consumers);
      cell.classList.toggle("bad", consumers === 0);
    }
  }

  const render = {
    operacao(data) {
      const section = document.getElementById("block-operacao");
      setField(section, "tarefas_por_minuto", fmt(data.tarefas_por_minuto));
      fillRows(section.querySelector("#queues"), data.filas.map((q) => {
        const row = el("tr", { "data-queue": q.nome });
        row.append(el("td", {}, q.nome),
                   el("td", { class: `num${q.consumidores ? "" : " bad"}`, "data-consumers": "" }, fmt(q.consumidores)),
                   el("td", { class: "num", "data-depth": "" }, q.profundidade === null ? "—" : fmt(q.profundidade)));
        return row;
      }));
      receiveLiveness(section, data);
      render.falhas(data);
      barChart(section.querySelector('[data-chart="tarefas"]'), data.graficos.tarefas);
      barChart(section.querySelector('[data-chart="profundidade"]'), data.graficos.profundidade);
    },
    workers(data) {
      receiveLiveness(document.getElementById("block-operacao"), data);
    },
    falhas(data) {
      const section = document.getElementById("block-operacao");
      setField(section, "falhas_abertas", fmt(data.falhas_abertas), data.falhas_abertas ? "bad" : "good");
      fillRows(section.querySelector("#dead-letters-by-area"), data.falhas_por_area.map((a) => {
        const row = el("tr", { "data-area": a.area });
        const cell = el("td", { class: "num" });
        cell.append(link(fmt(a.abertas), links.operacao && `${links.operacao}?area=${encodeURIComponent(a.area)}`));
        row.append(el("td", {}, a.area), cell);
        return row;
      }));
      barChart(section.querySelector('[data-chart="falhas"]'), data.grafico_falhas, "bar-falhas");
    },
    baixas(data) {
      const section = document.getElementById("block-baixas");
      setField(section, "ultima_hora", fmt(data.ultima_hora));
      barChart(section.querySelector('[data-chart="baixas"]'), data.graficos.baixas);
    },
    dispositivos(data) {
      const section = document.getElementById("block-dispositivos");
      setField(section, "offline", fmt(data.offline), data.offline ? "bad" : "good");
      setField(section, "sem_relatorio", fmt(data.sem_relatorio), data.sem_relatorio ? "bad" : "good");
      setField(section, "com_problema", fmt(data.com_problema), data.com_problema ? "bad" : "good");
      setField(section, "com_fila", fmt(data.com_fila.length), data.com_fila.length ? "bad" : "good");
      fillRows(section.querySelector("#spools"), data.com_fila.map((d) => {
        const row = el("tr");
        const name = el("td");
        name.append(link(d.id, links.dispositivos && `${links.dispositivos}/${encodeURIComponent(d.id)}`));
        row.append(name, el("td", {}, d.loja || "—"), el("td", { class: "num" }, fmt(d.leituras)),
                   el("td", {}, Stockflow.formatDateTime(d.mais_antiga)));
        return row;
      }));
    },
    sync(data) {
      const section = document.getElementById("block-sync");
      const words = { nunca: "nunca rodou", falhou: "falhou", "em andamento": "em andamento", concluida: "concluída" };
      setField(section, "status", words[data.status] || data.status,
               data.status === "falhou" ? "bad" : data.status === "concluida" ? "good" : "");
      setField(section, "inicio", Stockflow.formatDateTime(data.inicio));
      setField(section, "atraso_s", duration(data.atraso_s), data.atraso_s > 26 * 3600 ? "bad" : "");
    },
    comprovantes(data) {
      const section = document.getElementById("block-comprovantes");
      setField(section, "pendentes", fmt(data.pendentes), data.pendentes ? "bad" : "good");
    },
  };

  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      for (const figure of document.querySelectorAll(".chart")) {
        if (figure.chartArgs) barChart(figure, ...figure.chartArgs);
      }
    }, 200);
  });

  for (const [name, data] of Object.entries(blocks)) {
    const section = document.getElementById(`block-${name}`);
    if (!section || !render[name]) continue;
    wireLinks(section);
    render[name](data);
  }
  // One stream for every block shown (web/sse.py): its event id holds one cursor per channel,
  // which EventSource sends back as Last-Event-ID when it reconnects, so nothing is missed.
  const names = Object.keys(cursors);
  if (names.length) {
    const params = names.map((name) => `channel=${encodeURIComponent(`overview:${name}`)}`);
    params.push(`last_event_id=${encodeURIComponent(names.map((name) => cursors[name]).join(","))}`);
    const source = new EventSource(`/stream?${params.join("&")}`);
    for (const type of Object.keys(render)) {
      source.addEventListener(type, (event) => {
        const parsed = JSON.parse(event.data);
        render[type](names.length === 1 ? parsed : parsed.data);
      });
    }
    source.addEventListener("open", () => { root.dataset.live = "1"; });
  }
})();
