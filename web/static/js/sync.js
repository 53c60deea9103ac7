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
    field("linhas").textContent = `${run.linhas_enviadas} / ${run.linhas_total}`;
    field("linhas_inalteradas").textContent = text(run.linhas_inalteradas);
    field("linhas_rejeitadas").textContent = text(run.linhas_rejeitadas);
    field("duracao").textContent = `${run.duracao_s} s`;
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
                   Stockflow.formatDateTime(run.inicio), `${run.duracao_s} s`,
                   `${run.linhas_enviadas} / ${run.linhas_total}`, run.linhas_rejeitadas,
                   run.lotes, run.retomadas, run.disparado_por, run.erro || ""];
    row.replaceChildren(...cells.map((value, index) => {
      const td = document.createElement("td");
      if (index === 2) {
        const span = document.createElement("span");
        badge(span, run.status);
        td.append(span);
      } else {
        td.textContent = text(value);
      }
      if ([5, 6, 7, 8].includes(index)) td.className = "num";
      if (index === 10) td.className = "error";
      return td;
    }));
  }

  document.querySelectorAll(".when[data-iso]").forEach((el) => {
    if (el.dataset.iso) el.textContent = Stockflow.formatDateTime(el.dataset.iso);
  });

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

  Stockflow.subscribe("sync", {
    execucao: (run) => { updateCard(run); updateHistory(run); },
    reenvio: (result) => { finished.set(result.job_id, result); settle(result.job_id); },
  }, page.dataset.since);
})();
