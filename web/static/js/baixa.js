// The baixas page: live feed of a store's scans (SSE), history with search and undo,
// rejected scans, and the dead-letter list with replay.
"use strict";
(function () {
  const root = document.getElementById("baixas");
  const storeSelect = document.getElementById("store-select");
  if (storeSelect) {
    storeSelect.addEventListener("change", () => {
      window.location.search = "?loja=" + encodeURIComponent(storeSelect.value);
    });
  }
  if (!root) return;

  const store = root.dataset.store;
  const mayUndo = root.dataset.undo === "true";
  const mayReplay = root.dataset.replay === "true";
  const status = document.getElementById("live-status");
  const OUTCOME_LABELS = {
    removed: "Retirado", already_removed: "Já retirado",
    not_found: "Não encontrado", invalid: "Inválido", refused: "Recusado",
  };
  const FEED_MAX = 100;
  const seen = new Set();
  const state = { history: 1, rejected: 1, undos: 1, q: "" };
  const q = (s) => encodeURIComponent(s);

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined || text === "" ? "—" : String(text);
    if (className) td.className = className;
    return td;
  }

  function outcomeCell(outcome) {
    const td = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = `badge outcome-${outcome}`;
    badge.textContent = OUTCOME_LABELS[outcome] || outcome;
    td.appendChild(badge);
    return td;
  }

  function button(label, className, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = `btn btn-sm ${className}`;
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  function feedRow(item) {
    const tr = document.createElement("tr");
    tr.dataset.scanId = item.scan_id;
    tr.append(cell(Stockflow.formatDateTime(item.processed_at)), cell(item.product_id),
      cell(item.descricao), outcomeCell(item.outcome), cell(item.reason, "reason"),
      cell(item.device_id));
    return tr;
  }

  function addToFeed(item, live) {
    if (seen.has(item.scan_id)) return;  // a replayed event already shown
    seen.add(item.scan_id);
    const body = document.querySelector("#feed tbody");
    const row = feedRow(item);
    if (live) {
      row.classList.add("flash");
      body.prepend(row);
    } else {
      body.append(row);
    }
    while (body.rows.length > FEED_MAX) body.deleteRow(body.rows.length - 1);
    document.getElementById("feed-empty").classList.toggle("hidden", body.rows.length > 0);
  }

  function paginate(name, data, reload) {
    const nav = document.querySelector(`.pagination[data-for="${name}"]`);
    nav.replaceChildren();
    if (data.pages <= 1) return;
    const prev = button("‹ Anterior", "btn-outline", () => { state[name] -= 1; reload(); });
    prev.disabled = data.page <= 1;
    const next = button("Próxima ›", "btn-outline", () => { state[name] += 1; reload(); });
    next.disabled = data.page >= data.pages;
    const label = document.createElement("span");
    label.textContent = `Página ${Stockflow.formatNumber(data.page)} de ${Stockflow.formatNumber(data.pages)} `
      + `(${Stockflow.formatNumber(data.total)})`;
    nav.append(prev, label, next);
  }

  function fill(tableId, rows, emptyText, columns) {
    const body = document.querySelector(`#${tableId} tbody`);
    body.replaceChildren(...rows);
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = cell(emptyText, "muted");
      td.colSpan = columns;
      tr.append(td);
      body.append(tr);
    }
  }

  function showError(error) {
    status.textContent = error.message;
    status.className = "badge badge-danger";
  }

  async function loadFeed() {
    const data = await Stockflow.api(`/api/baixas/leituras?loja=${q(store)}`);
    data.items.forEach((item) => addToFeed(item, false));
    document.getElementById("feed-empty").classList.toggle("hidden", data.items.length > 0);
    return data.since;
  }

  async function loadHistory() {
    const data = await Stockflow.api(
      `/api/baixas/removidos?loja=${q(store)}&q=${q(state.q)}&pagina=${state.history}`);
    fill("history", data.items.map((item) => {
      const tr = document.createElement("tr");
      tr.dataset.idRemovido = item.id_removido;
      const actions = document.createElement("td");
      if (mayUndo) actions.append(button("Estornar", "btn-warning", () => openUndo(item)));
      tr.append(cell(Stockflow.formatDateTime(item.data_retirada)), cell(item.product_id),
        cell(item.descricao), cell(item.codigo_barras), cell(item.lote),
        cell(item.responsavel_retirada), cell(item.device_id), actions);
      return tr;
    }), state.q ? "Nada encontrado." : "Nenhum produto retirado.", 8);
    paginate("history", data, loadHistory);
  }

  async function loadRejected() {
    const data = await Stockflow.api(
      `/api/baixas/leituras?loja=${q(store)}&rejeitadas=1&pagina=${state.rejected}`);
    fill("rejected", data.items.map((item) => {
      const tr = document.createElement("tr");
      tr.append(cell(Stockflow.formatDateTime(item.processed_at)), cell(item.product_id),
        outcomeCell(item.outcome), cell(item.reason, "reason"), cell(item.device_id));
      return tr;
    }), "Nenhuma leitura rejeitada.", 5);
    paginate("rejected", data, loadRejected);
  }

  async function loadDeadLetters() {
    if (!mayReplay) return;  // the section is only on the page for those who may replay
    const data = await Stockflow.api("/api/baixas/dead-letters");
    fill("dead-letters", data.items.map((item) => {
      const tr = document.createElement("tr");
      const actions = document.createElement("td");
      if (mayReplay) {
        actions.append(button("Reenviar", "btn-info", async (event) => {
          event.target.disabled = true;
          try {
            await Stockflow.api(`/api/baixas/dead-letters/${item.id}/replay`, { method: "POST" });
            tr.remove();
          } catch (error) {
            event.target.disabled = false;
            showError(error);
          }
        }));
      }
      tr.dataset.id = item.id;
      tr.append(cell(Stockflow.formatDateTime(item.created_at)), cell(item.product_id),
        cell(item.store_key), cell(item.device_id), cell(item.error, "reason"), actions);
      return tr;
    }), "Nenhuma leitura com falha.", 6);
  }

  async function loadUndos() {
    const data = await Stockflow.api(`/api/baixas/estornos?loja=${q(store)}&pagina=${state.undos}`);
    fill("undos", data.items.map((item) => {
      const tr = document.createElement("tr");
      tr.append(cell(Stockflow.formatDateTime(item.estornado_em)), cell(item.product_id),
        cell(item.descricao), cell(item.estornado_por), cell(item.motivo, "reason"));
      return tr;
    }), "Nenhum estorno.", 5);
    paginate("undos", data, loadUndos);
  }

  // Undo: a modal asks why; the server records who and when.
  const modal = document.getElementById("undo-modal");
  const undoForm = document.getElementById("undo-form");
  const undoError = document.getElementById("undo-error");
  let undoing = null;

  function openUndo(item) {
    undoing = item;
    document.getElementById("undo-product").textContent = `${item.product_id} · ${item.descricao}`;
    undoForm.reset();
    undoError.classList.add("hidden");
    modal.classList.remove("hidden");
    undoForm.elements.motivo.focus();
  }

  function closeUndo() {
    modal.classList.add("hidden");
    undoing = null;
  }

  document.getElementById("undo-cancel").addEventListener("click", closeUndo);
  undoForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!undoing) return;
    try {
      await Stockflow.api(`/api/baixas/removidos/${undoing.id_removido}/estorno`,
        { method: "POST", json: { motivo: undoForm.elements.motivo.value } });
      closeUndo();
      loadHistory().catch(showError);
      loadUndos().catch(showError);
    } catch (error) {
      undoError.textContent = error.message;
      undoError.classList.remove("hidden");
    }
  });

  document.getElementById("history-search").addEventListener("submit", (event) => {
    event.preventDefault();
    state.q = event.target.elements.q.value.trim();
    state.history = 1;
    // the export links carry the search, so the file holds what the list shows
    document.querySelectorAll("#history-search a.btn-export").forEach((link) => {
      link.href = state.q ? `${link.dataset.base}&q=${q(state.q)}` : link.dataset.base;
    });
    loadHistory().catch(showError);
  });

  // Lists that a new scan changes are reloaded at most once a second.
  let refreshTimer = null;
  function refreshLists() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      loadHistory().catch(showError);
      loadRejected().catch(showError);
      loadDeadLetters().catch(showError);
    }, 1000);
  }

  async function start() {
    const since = await loadFeed();
    await Promise.all([loadHistory(), loadRejected(), loadDeadLetters(), loadUndos()]);
    const source = Stockflow.subscribe(`store:${store}`, {
      baixa: (item) => { addToFeed(item, true); refreshLists(); },
      estorno: () => { loadHistory().catch(showError); loadUndos().catch(showError); },
      gap: () => { loadFeed().catch(showError); refreshLists(); },
    }, since);
    source.addEventListener("open", () => {
      status.textContent = "ao vivo";
      status.className = "badge badge-ok";
    });
    source.addEventListener("error", () => {
      status.textContent = "reconectando…";
      status.className = "badge badge-warn";
    });
  }

  start().catch(showError);
})();
