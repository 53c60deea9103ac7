// Falhas: filter every area's dead letters, read one, replay or discard many (confirmed).
"use strict";
(function () {
  const root = document.getElementById("dead-letters");
  const form = document.getElementById("filters");
  const mayAct = root.dataset.mayAct === "1";
  const tbody = document.querySelector("#entries tbody");
  const message = document.getElementById("message");
  const selected = new Set();
  const PER_PAGE = 50;
  let page = 1, total = 0;

  // The filters live in the URL (?area=baixa links here from the overview and the baixa page).
  const initial = new URLSearchParams(location.search);
  for (const field of form.elements) {
    if (field.name && initial.has(field.name)) {
      if (field.tagName === "SELECT" && ![...field.options].some((o) => o.value === initial.get(field.name))) {
        field.append(new Option(initial.get(field.name), initial.get(field.name)));
      }
      field.value = initial.get(field.name);
    }
  }

  function el(tag, attrs = {}, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function say(text, kind) {
    message.textContent = text;
    message.className = `alert alert-${kind || "ok"}`;
  }

  function filters() {
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) params.set(k, v);
    return params;
  }

  function updateSelection() {
    if (!mayAct) return;
    document.getElementById("replay-selected").disabled = !selected.size;
    document.getElementById("discard-selected").disabled = !selected.size;
    document.getElementById("selection").textContent = selected.size ? `${Stockflow.formatNumber(selected.size)} selecionada(s)` : "";
  }

  const STATES = { aberta: "Aberta", reenviada: "Reenviada", descartada: "Descartada" };

  async function load() {
    const params = filters();
    history.replaceState(null, "", `${location.pathname}?${params}`);
    params.set("pagina", page);
    params.set("por_pagina", PER_PAGE);
    let body;
    try {
      body = await Stockflow.api(`/api/falhas?${params}`);
    } catch (error) {
      say(error.message, "erro");
      return;
    }
    total = body.total;
    selected.clear();
    tbody.replaceChildren(...body.items.map((item) => {
      const row = el("tr", { "data-id": item.id });
      if (mayAct) {
        const cell = el("td");
        if (item.situacao === "aberta") {
          const box = el("input", { type: "checkbox", "aria-label": `Selecionar falha ${item.id}` });
          box.addEventListener("change", () => { box.checked ? selected.add(item.id) : selected.delete(item.id); updateSelection(); });
          cell.append(box);
        }
        row.append(cell);
      }
      const state = item.situacao === "descartada" ? `${STATES[item.situacao]} por ${item.descartada_por}: ${item.motivo_descarte}`
        : item.situacao === "reenviada" ? `${STATES[item.situacao]} por ${item.reenviada_por}` : STATES[item.situacao];
      const see = el("button", { type: "button", class: "btn btn-sm btn-outline" }, "Ver");
      see.addEventListener("click", () => show(item.id));
      const action = el("td");
      action.append(see);
      row.append(el("td", {}, String(item.id)), el("td", {}, item.area), el("td", {}, item.task),
                 el("td", {}, item.referencia || "—"), el("td", { class: "error" }, item.erro),
                 el("td", {}, Stockflow.formatDateTime(item.criada_em)), el("td", { class: "state" }, state), action);
      return row;
    }));
    if (!body.items.length) {
      const empty = el("tr");
      empty.append(el("td", { colspan: "9", class: "muted" }, "Nenhuma falha com estes filtros."));
      tbody.append(empty);
    }
    const pages = Math.max(1, Math.ceil(total / PER_PAGE));
    document.getElementById("page-info").textContent = `Página ${Stockflow.formatNumber(page)} de ${Stockflow.formatNumber(pages)} (${Stockflow.formatNumber(total)} falhas)`;
    document.getElementById("previous").disabled = page <= 1;
    document.getElementById("next").disabled = page >= pages;
    const all = document.getElementById("select-all");
    if (all) all.checked = false;
    updateSelection();
  }

  async function show(id) {
    const item = await Stockflow.api(`/api/falhas/${id}`);
    document.getElementById("detail-title").textContent = `Falha ${item.id} · ${item.task}`;
    document.getElementById("detail-error").textContent = item.erro;
    document.getElementById("detail-message").textContent = JSON.stringify({ args: item.args, kwargs: item.kwargs }, null, 2);
    document.getElementById("detail-state").textContent = `Criada em ${Stockflow.formatDateTime(item.criada_em)} · ${STATES[item.situacao]}`;
    document.getElementById("detail").classList.remove("hidden");
  }
  document.getElementById("detail-close").addEventListener("click", () => document.getElementById("detail").classList.add("hidden"));

  // One confirmation dialog for both actions; discarding asks for the reason.
  function confirmAction(title, text, askReason) {
    const dialog = document.getElementById("confirm");
    const reason = document.getElementById("reason");
    document.getElementById("confirm-title").textContent = title;
    document.getElementById("confirm-text").textContent = text;
    document.getElementById("reason-label").classList.toggle("hidden", !askReason);
    reason.value = "";
    dialog.classList.remove("hidden");
    return new Promise((resolve) => {
      const ok = document.getElementById("confirm-ok");
      const cancel = document.getElementById("confirm-cancel");
      function done(value) {
        if (value !== null && askReason && !reason.value.trim()) { reason.focus(); return; }
        dialog.classList.add("hidden");
        ok.removeEventListener("click", onOk);
        cancel.removeEventListener("click", onCancel);
        resolve(value);
      }
      function onOk() { done(askReason ? reason.value.trim() : ""); }
      function onCancel() { done(null); }
      ok.addEventListener("click", onOk);
      cancel.addEventListener("click", onCancel);
    });
  }

  if (mayAct) {
    document.getElementById("select-all").addEventListener("change", (event) => {
      for (const box of tbody.querySelectorAll("input[type=checkbox]")) {
        box.checked = event.target.checked;
        const id = Number(box.closest("tr").dataset.id);
        box.checked ? selected.add(id) : selected.delete(id);
      }
      updateSelection();
    });
    document.getElementById("replay-selected").addEventListener("click", async () => {
      const ids = [...selected];
      if (await confirmAction("Reenviar falhas", `Reenviar ${Stockflow.formatNumber(ids.length)} falha(s)? Cada uma volta para a fila da sua área.`, false) === null) return;
      try {
        const body = await Stockflow.api("/api/falhas/reenviar", { method: "POST", json: { ids } });
        say(`${Stockflow.formatNumber(Object.keys(body.reenviadas).length)} falha(s) reenviada(s).`);
      } catch (error) { say(error.message, "erro"); }
      load();
    });
    document.getElementById("discard-selected").addEventListener("click", async () => {
      const ids = [...selected];
      const reason = await confirmAction("Descartar falhas", `Descartar ${Stockflow.formatNumber(ids.length)} falha(s)? Elas não serão reenviadas.`, true);
      if (reason === null) return;
      try {
        const body = await Stockflow.api("/api/falhas/descartar", { method: "POST", json: { ids, motivo: reason } });
        say(`${Stockflow.formatNumber(body.descartadas.length)} falha(s) descartada(s).`);
      } catch (error) { say(error.message, "erro"); }
      load();
    });
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); page = 1; load(); });
  document.getElementById("previous").addEventListener("click", () => { page -= 1; load(); });
  document.getElementById("next").addEventListener("click", () => { page += 1; load(); });
  load();
})();
