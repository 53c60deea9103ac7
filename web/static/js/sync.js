// The sync page: trigger buttons, and live run updates over SSE (channel "sync").
"use strict";
(function () {
  const page = document.getElementById("sync-page");
  if (!page) return;
  const message = document.getElementById("sync-message");
  const history = document.querySelector("#sync-history tbody");
  const LABELS = { running: "em andamento", finished: "concluída", failed: "falhou",
                   superseded: "substituída", interrupted: "interrompida" };

  function text(value) { return value === null || value === undefined ? "" : String(value); }
  const number = (value) => Stockflow.formatNumber(value);

  function badge(el, status) {
    el.className = `badge status-${status}`;
    el.textContent = LABELS[status] || status;
  }

  function updateCard(run) {
    const card = page.querySelector(`.sync-card[data-entidade="${run.entidade}"]`);
    if (!card) return;
    const field = (name) => card.querySelector(`[data-field="${name}"]`);
    badge(field("status"), run.status);
    const bar = field("progresso");
    bar.style.width = `${run.progresso}%`;
    bar.textContent = `${run.progresso}%`;
    field("inicio").textContent = Stockflow.formatDateTime(run.inicio);
    field("linhas").textContent = `${number(run.linhas_enviadas)} / ${number(run.linhas_total)}`;
    field("linhas_inalteradas").textContent = number(run.linhas_inalteradas);
    field("linhas_rejeitadas").textContent = number(run.linhas_rejeitadas);
    field("duracao").textContent = `${number(run.duracao_s)} s`;
    field("erro").textContent = run.erro || "—";
  }

  function updateHistory(run) {
    let row = history.querySelector(`tr[data-run="${run.id}"]`);
    if (!row) {
      history.querySelector("tr.empty")?.remove();
      row = document.createElement("tr");
      row.dataset.run = run.id;
      history.prepend(row);
    }
    const cells = [run.entidade, run.modo === "full" ? "completa" : "incremental", null,
                   Stockflow.formatDateTime(run.inicio), `${number(run.duracao_s)} s`,
                   `${number(run.linhas_enviadas)} / ${number(run.linhas_total)}`,
                   number(run.linhas_rejeitadas), number(run.lotes), number(run.retomadas),
                   run.disparado_por, run.erro || ""];
    row.replaceChildren(...cells.map((value, index) => {
      const td = document.createElement("td");
      if (index === 2) {
        const span = document.createElement("span");
        badge(span, run.status);
        td.append(span);
      } else {
        td.textContent = text(value);
      }
      if (index === 6 && run.linhas_rejeitadas) {
        for (const formato of ["csv", "xlsx"]) {
          const link = document.createElement("a");
          link.className = "export";
          link.href = `/sync/rejeicoes/exportar.${formato}?execucao=${encodeURIComponent(run.id)}`;
          link.textContent = formato.toUpperCase();
          td.append(" ", link);
        }
      }
      if ([5, 6, 7, 8].includes(index)) td.className = "num";
      if (index === 10) td.className = "error";
      return td;
    }));
  }

  document.querySelectorAll("button[data-sync]").forEach((button) => {
    button.addEventListener("click", async () => {
      const entidade = button.dataset.sync;
      const url = entidade ? `/api/plusoft/${entidade}/sincronizar` : "/api/plusoft/sincronizar";
      button.disabled = true;
      try {
        const answer = await Stockflow.api(url, { method: "POST", json: { modo: button.dataset.modo } });
        message.textContent = answer.ja_em_andamento
          ? `Já em andamento (job ${answer.job_id}).`
          : `Sincronização iniciada (job ${answer.job_id}).`;
      } catch (error) {
        message.textContent = `Erro: ${error.message}`;
      } finally {
        button.disabled = false;
      }
    });
  });

  // A replay changes the rejection list: when one started here finishes, the page is read
  // again and shows the outcome. Its event may come before the POST's answer, so both wait
  // for each other.
  const NOTE = "sync-reenvio";
  const started = new Set();
  const finished = new Map();
  if (sessionStorage.getItem(NOTE)) {
    message.textContent = sessionStorage.getItem(NOTE);
    sessionStorage.removeItem(NOTE);
  }

  function settle(jobId) {
    const result = finished.get(jobId);
    if (!started.has(jobId) || !result) return;
    sessionStorage.setItem(NOTE,
      `Reenvio concluído: ${result.reenviadas} enviadas, ${result.inalteradas} já estavam no Plusoft, ` +
      `${result.ainda_rejeitadas} ainda rejeitadas, ${result.sem_origem} não existem mais na origem.`);
    window.location.reload();
  }

  async function replay(button, url) {
    button.disabled = true;
    try {
      const answer = await Stockflow.api(url, { method: "POST" });
      message.textContent = `Reenvio iniciado (job ${answer.job_id}).`;
      started.add(answer.job_id);
      settle(answer.job_id);
    } catch (error) {
      message.textContent = `Erro: ${error.message}`;
      button.disabled = false;
    }
  }

  document.querySelectorAll("button[data-reenviar]").forEach((button) => {
    button.addEventListener("click", () => replay(button, `/api/plusoft/rejeicoes/${button.dataset.reenviar}/reenviar`));
  });
  document.querySelectorAll("button[data-reenviar-entidade]").forEach((button) => {
    button.addEventListener("click", () => replay(button, `/api/plusoft/${button.dataset.reenviarEntidade}/rejeicoes/reenviar`));
  });

  // --- the dry run: a job of this page's user, followed on its own channel ---------------
  const dryRun = document.getElementById("simulacao");
  const dryRunBar = document.getElementById("simulacao-progresso");
  const dryRunStage = document.getElementById("simulacao-etapa");
  const dryRunResult = document.getElementById("simulacao-resultado");
  let watching = null;

  // Consinco's watermarks are its local time without an offset ("2026-11-30T18:05:00") or a
  // sales day ("2026-11-30"): shown as written, in pt-BR order, never shifted by a time zone.
  function watermark(value) {
    if (!value) return "início";
    const [day, time] = String(value).split("T");
    return time ? `${Stockflow.formatDate(day)} ${time.slice(0, 5)}` : Stockflow.formatDate(day);
  }

  function element(tag, content, className) {
    const node = document.createElement(tag);
    if (content !== undefined) node.textContent = content;
    if (className) node.className = className;
    return node;
  }

  function samplesTable(rows) {
    const table = element("table", undefined, "dry-run-samples");
    const columns = Object.keys(rows[0]);
    const head = table.createTHead().insertRow();
    for (const column of columns) head.append(element("th", column));
    const body = table.createTBody();
    for (const row of rows) {
      const tr = body.insertRow();
      for (const column of columns) tr.insertCell().textContent = row[column] === null ? "—" : String(row[column]);
    }
    const wrapper = element("div", undefined, "table-scroll");
    wrapper.append(table);
    return wrapper;
  }

  function renderDryRun(result) {
    dryRunResult.replaceChildren();
    for (const [entidade, r] of Object.entries(result.entidades)) {
      const block = element("section", undefined, "dry-run-entity");
      block.dataset.entidade = entidade;
      block.append(element("h3", entidade));
      if (r.deriva) {
        block.append(element("p", r.deriva, "error drift"));
        dryRunResult.append(block);
        continue;
      }
      const dl = element("dl");
      const items = [
        ["A enviar", number(r.a_enviar), "a_enviar"],
        ["Sem mudança", number(r.sem_mudanca), "sem_mudanca"],
        ["Rejeitadas pelo mapeamento", number(r.rejeitadas), "rejeitadas"],
        ["Lidas", `${number(r.lidas)} de ${number(r.total)}`, "lidas"],
        ["Lotes (POSTs)", number(r.lotes), "lotes"],
        ["Janela", `${watermark(r.marca_de)} → ${watermark(r.marca_ate)} (${r.modo === "full" ? "completa" : "incremental"})`, "janela"],
      ];
      if (r.retomaria) items.push(["Continuaria", `a execução ${r.retomaria}, do último lote aceito`, "retomaria"]);
      for (const [term, value, key] of items) {
        const dd = element("dd", value);
        dd.dataset.count = key;
        dl.append(element("dt", term), dd);
      }
      block.append(dl);
      if (r.amostras.length) {
        block.append(element("h4", `Primeiras ${number(r.amostras.length)} linhas a enviar`));
        block.append(samplesTable(r.amostras));
      } else if (r.amostras_omitidas) {
        block.append(element("p", `Amostras omitidas (${r.amostras_omitidas}).`, "muted"));
      }
      if (r.rejeicoes.length) {
        block.append(element("h4", "Rejeitadas (primeiras)"));
        const list = element("ul", undefined, "error");
        for (const item of r.rejeicoes) list.append(element("li", `${item.chave}: ${item.motivo}`));
        block.append(list);
      }
      dryRunResult.append(block);
    }
  }

  function showDryRunJob(job) {
    const progress = job.progress || 0;
    dryRunBar.style.width = `${progress}%`;
    dryRunBar.textContent = `${progress}%`;
    dryRun.dataset.status = job.status;
    if (job.status === "finished") {
      dryRunStage.textContent = "Simulação concluída: nada foi enviado.";
      renderDryRun(job.result);
      if (watching) { watching.close(); watching = null; }
    } else if (job.status === "failed") {
      dryRunStage.textContent = `A simulação falhou: ${job.error}`;
      if (watching) { watching.close(); watching = null; }
    } else {
      dryRunStage.textContent = job.stage || "na fila";
    }
  }

  document.querySelectorAll("button[data-simular]").forEach((button) => {
    button.addEventListener("click", async () => {
      const entidade = button.dataset.simular;
      const url = entidade ? `/api/plusoft/${entidade}/simular` : "/api/plusoft/simular";
      button.disabled = true;
      try {
        const answer = await Stockflow.api(url, { method: "POST", json: { modo: button.dataset.modo } });
        dryRun.classList.remove("hidden");
        document.getElementById("simulacao-job").textContent = `job ${answer.job_id}`;
        dryRunResult.replaceChildren();
        showDryRunJob({ status: "queued", progress: 0 });
        if (watching) watching.close();
        watching = Stockflow.subscribe(answer.channel, { job: showDryRunJob }, "0-0");
        dryRun.scrollIntoView({ block: "nearest" });
      } catch (error) {
        message.textContent = `Erro: ${error.message}`;
      } finally {
        button.disabled = false;
      }
    });
  });

  Stockflow.subscribe("sync", {
    execucao: (run) => { updateCard(run); updateHistory(run); },
    reenvio: (result) => { finished.set(result.job_id, result); settle(result.job_id); },
  }, page.dataset.since);
})();
