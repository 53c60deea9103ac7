// Receipts page: upload through the API, then follow every pending job live over one SSE stream.
"use strict";
(function () {
  const table = document.querySelector("#comprovantes tbody");
  const message = document.getElementById("upload-message");
  const form = document.getElementById("upload-form");
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

  function money(valor) {
    return valor === null || valor === undefined ? "—"
      : Number(valor).toLocaleString("pt-BR", { style: "currency", currency: "BRL" });
  }

  function party(p) {
    if (!p || !p.nome && !p.documento) return "—";
    return el("div", { class: "party" }, p.nome || "—",
      el("small", {}, [p.documento, p.instituicao].filter(Boolean).join(" · ")),
      p.chave_pix ? el("small", {}, `Chave: ${p.chave_pix}`) : null);
  }

  function statusCell(c, job) {
    if (c.status === "concluido") return el("span", { class: "badge badge-ok" }, "Concluído");
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

  function render(c, job) {
    let row = table.querySelector(`tr[data-id="${c.id}"]`);
    const empty = table.querySelector("tr.empty");
    if (empty) empty.remove();
    if (!row) {
      row = el("tr", { "data-id": c.id });
      table.prepend(row);
    }
    row.replaceChildren(
      el("td", {}, c.id), el("td", {}, c.nome_original), el("td", {}, c.pedido || "—"),
      el("td", {}, statusCell(c, job)), el("td", {}, money(c.valor)),
      el("td", {}, c.data_hora ? c.data_hora.replace("T", " ") : "—"),
      el("td", { class: "mono" }, c.id_transacao || "—"), el("td", {}, party(c.recebedor)),
      el("td", {}, party(c.pagador)), el("td", {}, validacaoCell(c.validacao_recebedor)));
    row.dataset.status = c.status;
    if ((c.status === "recebido" || c.status === "processando") && c.job_id) follow(c);
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
