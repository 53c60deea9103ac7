// Receipts page: upload through the API, follow every pending job live over one SSE stream,
// and (finance staff) the review queue: the file beside the fields, corrected and confirmed.
"use strict";
(function () {
  const table = document.querySelector("#comprovantes tbody");
  const message = document.getElementById("upload-message");
  const form = document.getElementById("upload-form");
  const totalNode = document.getElementById("total-recebido");
  // every receipt shown, by id (the total counts each payment once)
  const receipts = new Map();
  // job channel -> receipt, for the receipts still being read
  const following = new Map();
  const jobStreams = Stockflow.multiplex({
    job: (job, channel) => {
      const c = following.get(channel);
      if (!c) return;
      if (job.status === "finished" || job.status === "failed") {
        following.delete(channel);
        jobStreams.remove(channel);
        refresh(c.id);
      } else {
        render(c, job);
      }
    },
  });
  const STAGES = { recebido: "Recebido", ocr: "Lendo (OCR)", extraindo_campos: "Extraindo campos", concluido: "Concluído" };
  const VALIDACAO = { confere: ["badge-ok", "Confere"], divergente: ["badge-danger", "Divergente"],
                      indeterminado: ["badge-warn", "Indeterminado"], nao_configurado: ["", "Não configurado"] };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key === "style") node.style.cssText = value; // a style attribute would break the CSP
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  // A receipt's date/time is local time as printed (no zone): dd/mm/aaaa hh:mm[:ss], never shifted.
  function printedDateTime(iso) {
    if (!iso) return "—";
    const time = String(iso).slice(11);
    return time ? `${Stockflow.formatDate(iso)} ${time}` : Stockflow.formatDate(iso);
  }

  function party(p) {
    if (!p || !p.nome && !p.documento) return "—";
    return el("div", { class: "party" }, p.nome || "—",
      el("small", {}, [p.documento, p.instituicao].filter(Boolean).join(" · ")),
      p.chave_pix ? el("small", {}, `Chave: ${p.chave_pix}`) : null);
  }

  function duplicateBadge(c) {
    if (!c.duplicado) return null;
    const of = c.duplicado_de ? `Duplicado do comprovante #${c.duplicado_de}` : "Pagamento já recebido em outro comprovante";
    return el("div", {}, el("span", { class: "badge badge-danger duplicado", title: of }, "Duplicado"),
      el("small", { class: "muted" }, ` ${of}`));
  }

  function reviewBadge(c) {
    if (c.revisao === "pendente") return el("span", { class: "badge badge-warn revisao" }, "Para revisar");
    if (c.revisao === "confirmado") {
      return el("span", { class: "badge revisao", title: Stockflow.formatDateTime(c.revisado_em) },
        `Revisado por ${c.revisado_por || "—"}`);
    }
    return null;
  }

  function statusCell(c, job) {
    if (c.status === "concluido") {
      return el("div", {}, el("span", { class: "badge badge-ok" }, "Concluído"), " ", reviewBadge(c), duplicateBadge(c));
    }
    if (c.status === "erro") return el("span", { class: "badge badge-danger", title: c.erro || "" }, `Erro: ${c.erro || ""}`);
    const pct = job && job.progress ? job.progress : 0;
    const label = job && job.stage ? (STAGES[job.stage] || job.stage) : "Na fila";
    return el("div", {}, el("div", { class: "progress" },
      el("div", { class: "progress-bar", style: `width:${Math.max(pct, 5)}%` }, `${pct}%`)), el("small", {}, label));
  }

  function validacaoCell(v) {
    if (!v) return "—";
    const [cls, label] = VALIDACAO[v.status] || ["", v.status];
    return el("div", {}, el("span", { class: `badge ${cls}` }, label), el("div", { class: "muted" }, v.motivo));
  }

  function showTotal() {
    if (!totalNode) return;
    let total = 0;
    for (const c of receipts.values()) {
      if (c.status === "concluido" && !c.duplicado && c.valor !== null) total += Number(c.valor);
    }
    totalNode.textContent = Stockflow.formatMoney(total);
  }

  function render(c, job) {
    receipts.set(c.id, c);
    let row = table.querySelector(`tr[data-id="${c.id}"]`);
    const empty = table.querySelector("tr.empty");
    if (empty) empty.remove();
    if (!row) {
      row = el("tr", { "data-id": c.id });
      table.prepend(row);
    }
    row.replaceChildren(
      el("td", {}, c.id), el("td", {}, c.nome_original), el("td", {}, c.pedido || "—"),
      el("td", {}, statusCell(c, job)), el("td", { class: "num" }, Stockflow.formatMoney(c.valor)),
      el("td", {}, printedDateTime(c.data_hora)),
      el("td", { class: "mono" }, c.id_transacao || "—"), el("td", {}, party(c.recebedor)),
      el("td", {}, party(c.pagador)), el("td", {}, validacaoCell(c.validacao_recebedor)));
    row.dataset.status = c.status;
    row.classList.toggle("duplicado", Boolean(c.duplicado));
    if ((c.status === "recebido" || c.status === "processando") && c.job_id) follow(c);
    showTotal();
    if (review) review.update(c);
    return row;
  }

  async function refresh(id) {
    return render(await Stockflow.api(`/api/comprovantes/${id}`));
  }

  // Every receipt still being read is followed over one stream, whatever their number.
  function follow(c) {
    const channel = `job:${c.job_id}`;
    if (following.has(channel)) return;
    following.set(channel, c);
    jobStreams.add(channel);
  }

  function show(text, kind) {
    message.textContent = text;
    message.className = `alert alert-${kind}`;
  }

  // --- tabs ----------------------------------------------------------------------------------
  for (const tab of document.querySelectorAll(".tabs .tab")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll(".tabs .tab")) other.classList.toggle("active", other === tab);
      for (const panel of document.querySelectorAll(".tab-panel")) {
        panel.classList.toggle("hidden", panel.id !== `painel-${tab.dataset.tab}`);
      }
    });
  }

  // --- the review queue (finance staff only: the page has it when the role allows) ----------
  const review = document.getElementById("painel-revisar") ? reviewQueue() : null;

  function reviewQueue() {
    const config = JSON.parse(document.getElementById("revisao-config").textContent);
    const queue = document.querySelector("#revisar tbody");
    const emptyNote = document.getElementById("revisar-vazio");
    const count = document.getElementById("revisar-contagem");
    const panel = document.getElementById("revisao");
    const fields = document.getElementById("revisao-campos");
    const error = document.getElementById("revisao-erro");
    const reviewForm = document.getElementById("revisao-form");
    const pending = new Map();
    let open = null; // the receipt being reviewed, with the values first shown

    function value(c, key) {
      const [partyName, name] = key.split(".");
      if (name) return (c[partyName] || {})[name] ?? null;
      return c[key] ?? null;
    }

    // What the person sees and edits: money and dates as they read them.
    function shown(key, raw) {
      if (raw === null || raw === undefined) return "";
      if (key === "valor") return Stockflow.formatNumber(raw, 2);
      if (key === "data_hora") return printedDateTime(raw);
      return String(raw);
    }

    function counted() {
      count.textContent = String(pending.size);
      emptyNote.classList.toggle("hidden", pending.size > 0);
    }

    function row(c) {
      const button = el("button", { type: "button", class: "btn btn-primary revisar", "data-id": c.id }, "Revisar");
      button.addEventListener("click", () => openReview(c.id));
      return el("tr", { "data-id": c.id }, el("td", {}, c.id), el("td", {}, c.nome_original),
        el("td", {}, Stockflow.formatDateTime(c.created_at)), el("td", { class: "num" }, Stockflow.formatMoney(c.valor)),
        el("td", {}, el("ul", { class: "motivos" }, ...(c.revisao_motivos || []).map((m) => el("li", {}, m)))),
        el("td", {}, button));
    }

    function update(c) {
      const old = queue.querySelector(`tr[data-id="${c.id}"]`);
      if (c.revisao === "pendente" && c.status === "concluido") {
        pending.set(c.id, c);
        if (old) old.replaceWith(row(c)); else queue.append(row(c));
      } else {
        pending.delete(c.id);
        if (old) old.remove();
        if (open && open.c.id === c.id) close();
      }
      counted();
    }

    function field(c, key, label) {
      const confidence = (c.confianca || {})[key];
      const doubtful = (c.duvidosos || []).includes(key);
      const input = el("input", { type: "text", name: key, id: `campo-${key}`, value: shown(key, value(c, key)) });
      const note = [confidence === undefined ? null : `confiança ${Stockflow.formatNumber(confidence * 100, 0)}%`,
                    doubtful ? "duvidoso" : null].filter(Boolean).join(" · ");
      return el("div", { class: `campo${doubtful ? " duvidoso" : ""}`, "data-campo": key },
        el("label", { for: `campo-${key}` }, label, note ? el("small", { class: "confianca" }, ` ${note}`) : null), input);
    }

    function openReview(id) {
      const c = pending.get(id) || receipts.get(id);
      if (!c) return;
      open = { c, first: {} };
      document.getElementById("revisao-id").textContent = c.id;
      document.getElementById("revisao-imagem").src = `/api/comprovantes/${c.id}/arquivo`;
      document.getElementById("revisao-motivos").replaceChildren(...(c.revisao_motivos || []).map((m) => el("li", {}, m)));
      fields.replaceChildren(...config.campos.map(([key, label]) => field(c, key, label)));
      for (const input of fields.querySelectorAll("input")) open.first[input.name] = input.value;
      error.classList.add("hidden");
      panel.classList.remove("hidden");
    }

    function close() {
      open = null;
      panel.classList.add("hidden");
      document.getElementById("revisao-imagem").removeAttribute("src");
    }

    reviewForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!open) return;
      // Only what the person changed is sent: the rest was confirmed as shown.
      const campos = {};
      for (const input of fields.querySelectorAll("input")) {
        if (input.value !== open.first[input.name]) campos[input.name] = input.value;
      }
      const button = document.getElementById("revisao-confirmar");
      button.disabled = true;
      try {
        const body = await Stockflow.api(`/api/comprovantes/${open.c.id}/revisao`, { method: "POST", json: { campos } });
        render(body.comprovante);
        show(`Comprovante #${body.comprovante.id} revisado.`, "ok");
      } catch (failure) {
        error.textContent = failure.message;
        error.classList.remove("hidden");
      } finally {
        button.disabled = false;
      }
    });
    document.getElementById("revisao-fechar").addEventListener("click", close);

    // Receipts entering or leaving the queue (read by a worker, confirmed by a colleague).
    Stockflow.subscribe("comprovantes", {
      revisao: (event) => refreshQueued(event.comprovante_id),
    }, config.desde);

    async function refreshQueued(id) {
      const c = await Stockflow.api(`/api/comprovantes/${id}`);
      if (receipts.has(id)) render(c); else update(c);
    }

    for (const c of JSON.parse(document.getElementById("revisar-data").textContent)) update(c);
    counted();
    return { update };
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = document.getElementById("enviar");
    button.disabled = true;
    try {
      const body = await Stockflow.api("/api/comprovantes", { method: "POST", body: new FormData(form) });
      if (body.comprovante) {
        render(body.comprovante, body.job).classList.add("fresh");
      } else if (body.comprovante_id) { // absent when the file is someone else's receipt
        await refresh(body.comprovante_id);
        table.querySelector(`tr[data-id="${body.comprovante_id}"]`).classList.add("fresh");
      }
      show(body.mensagem || `Comprovante #${body.comprovante_id} recebido; a leitura segue em segundo plano.`, "ok");
      form.reset();
    } catch (error) {
      show(error.message, "erro");
    } finally {
      button.disabled = false;
    }
  });

  for (const c of JSON.parse(document.getElementById("comprovantes-data").textContent)) render(c);
})();
