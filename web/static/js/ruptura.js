// Carteira: analyse the ruptura of the visible orders in the workers and show each result as
// it arrives over SSE (no polling). Clicking a button opens the details; "Reanalisar agora"
// re-analyses one order in the web request itself.
"use strict";
(function () {
  const CORES = { CRITICA: "btn-danger", ALTA: "btn-warning", MEDIA: "btn-info", BAIXA: "btn-secondary" };
  const ORIGENS = { producao: "Produção", compra: "Compra" };

  const painel = document.getElementById("ruptura-progresso");
  const barra = painel.querySelector(".progress-bar");
  const info = painel.querySelector(".ruptura-progresso-info");
  const resumoFinal = painel.querySelector(".ruptura-progresso-resumo");
  const modal = document.getElementById("ruptura-modal");
  const botoes = new Map();
  document.querySelectorAll("button.btn-ruptura[data-pedido]").forEach((b) => botoes.set(b.dataset.pedido, b));

  const resultados = new Map();
  let analise = null;
  let fonte = null;
  let percentual = 0;
  let concluida = false;
  let pedidoNoModal = null;

  const numero = (n) => Number(n).toLocaleString("pt-BR", { maximumFractionDigits: 3 });
  const dataCurta = (iso) => { const [, m, d] = iso.split("-"); return `${d}/${m}`; };
  const dataBR = (iso) => { if (!iso) return "—"; const [a, m, d] = iso.split("-"); return `${d}/${m}/${a}`; };

  function rotulo(r) {
    if (r.status !== "analisado") return { texto: "Falha na análise", cor: "btn-danger" };
    if (r.sem_itens) return { texto: "Sem itens", cor: CORES.CRITICA };
    if (r.pedido_ok) return { texto: "Estoque OK", cor: "btn-success" };
    const total = r.data_disponibilidade_total
      ? `Total Disp. ${dataCurta(r.data_disponibilidade_total)}` : "Total Não Disp.";
    return { texto: `Disp. ${Math.floor(r.percentual_disponibilidade)}% | ${total}`,
             cor: CORES[r.criticidade] || "btn-secondary" };
  }

  // Results can arrive twice (a redelivered batch, a manual re-analysis): keep the newest.
  function mostrar(r) {
    const anterior = resultados.get(r.num_pedido);
    if (anterior && anterior.analisado_em > r.analisado_em) return;
    resultados.set(r.num_pedido, r);
    const botao = botoes.get(r.num_pedido);
    if (botao) {
      const { texto, cor } = rotulo(r);
      botao.className = `btn btn-sm btn-ruptura ${cor}`;
      botao.textContent = texto;
      botao.disabled = false;
      botao.dataset.estado = r.status === "analisado" ? "pronto" : "falha";
      botao.dataset.criticidade = r.criticidade || "";
      botao.title = "Ver itens, estoque e datas";
    }
    if (pedidoNoModal === r.num_pedido) abrirModal(r);
  }

  function progresso(valor) {
    percentual = Math.max(percentual, Math.min(100, Math.floor(valor)));
    barra.style.width = `${percentual}%`;
    barra.textContent = `${percentual}%`;
  }

  function concluir(resumo) {
    if (concluida) return;
    concluida = true;
    if (fonte) fonte.close();
    progresso(100);
    painel.classList.add("concluida");
    resumoFinal.textContent = `Concluído: ${resumo.total} pedidos em ${numero(resumo.duracao_s)} s — `
      + `${resumo.ok} com estoque OK, ${resumo.ruptura} com ruptura, ${resumo.falhas} com falha.`;
    // every result was published before "completo"; fetch the stored ones should any be missing
    if ([...botoes.keys()].some((num) => !resultados.has(num))) {
      recarregar().catch((erro) => { info.textContent = erro.message; });
    }
  }

  async function recarregar() {
    const estado = await Stockflow.api(`/api/carteira/ruptura/analises/${analise.analise_id}`);
    estado.resultados.forEach(mostrar);
    progresso(estado.percentual);
  }

  async function iniciar() {
    const pedidos = [...botoes.keys()];
    if (!pedidos.length) return;
    painel.classList.remove("hidden");
    info.textContent = `Processando ${pedidos.length} pedidos com ${painel.dataset.workers} workers...`;
    try {
      analise = await Stockflow.api("/api/carteira/ruptura/analises", { method: "POST", json: { pedidos } });
    } catch (erro) {
      info.textContent = `Não foi possível iniciar a análise: ${erro.message}`;
      return;
    }
    // "0-0": replay the channel from its start, so events sent before we connected count too.
    fonte = Stockflow.subscribe(analise.canal, {
      resultados: (dados) => dados.resultados.forEach(mostrar),
      progresso: (dados) => progresso(dados.percentual),
      completo: concluir,
      gap: () => recarregar().catch((erro) => { info.textContent = erro.message; }),
    }, "0-0");
  }

  async function reanalisar(num) {
    const botao = botoes.get(num);
    const botaoModal = document.getElementById("ruptura-reanalisar");
    if (botao) { botao.disabled = true; botao.textContent = "Analisando..."; }
    botaoModal.disabled = true;
    try {
      const r = await Stockflow.api(`/api/carteira/ruptura/pedidos/${encodeURIComponent(num)}`, { method: "POST" });
      mostrar(r);
      return r;
    } catch (erro) {
      const falha = { num_pedido: num, status: "falha", erro: erro.message, analisado_em: new Date().toISOString() };
      mostrar(falha);
      return falha;
    } finally {
      botaoModal.disabled = false;
    }
  }

  function celula(linha, texto, classe) {
    const td = linha.insertCell();
    td.textContent = texto;
    if (classe) td.className = classe;
  }

  function abrirModal(r) {
    pedidoNoModal = r.num_pedido;
    document.getElementById("ruptura-modal-titulo").textContent =
      `Pedido ${r.num_pedido}${r.cliente ? ` — ${r.cliente}` : ""}`;
    const resumo = document.getElementById("ruptura-modal-resumo");
    const erro = document.getElementById("ruptura-modal-erro");
    const corpo = modal.querySelector(".ruptura-itens tbody");
    resumo.replaceChildren();
    corpo.replaceChildren();
    erro.classList.toggle("hidden", r.status === "analisado");
    erro.textContent = r.erro || "";
    if (r.status === "analisado") {
      const criticidade = document.createElement("span");
      criticidade.className = `criticidade criticidade-${r.criticidade}`;
      criticidade.textContent = r.criticidade;
      const campos = [
        ["Situação", r.pedido_ok ? "Estoque OK" : (r.sem_itens ? "Pedido sem itens" : "Ruptura")],
        ["Criticidade", criticidade],
        ["Disponível agora", `${numero(r.percentual_disponibilidade)}% (${r.itens_disponiveis} de ${r.qtd_itens} itens)`],
        ["Disponibilidade total", r.data_disponibilidade_total ? dataBR(r.data_disponibilidade_total) : "não prevista"],
        ["Entrega prevista", dataBR(r.data_entrega_prevista)],
        ["Analisado em", Stockflow.formatDateTime(r.analisado_em)],
      ];
      for (const [nome, valor] of campos) {
        const dt = document.createElement("dt");
        dt.textContent = nome;
        const dd = document.createElement("dd");
        dd.append(valor);
        resumo.append(dt, dd);
      }
      for (const item of r.itens) {
        const linha = corpo.insertRow();
        if (!item.disponivel_agora) linha.className = "falta";
        celula(linha, `${item.cod_produto} — ${item.nome_produto}`);
        celula(linha, numero(item.quantidade), "num");
        celula(linha, numero(item.estoque), "num");
        celula(linha, numero(item.disponivel), "num");
        celula(linha, numero(item.falta), "num");
        celula(linha, item.disponivel_agora ? "Agora"
          : (item.data_disponibilidade ? dataBR(item.data_disponibilidade) : "Sem previsão"));
        celula(linha, ORIGENS[item.origem_entrada] || (item.disponivel_agora ? "Estoque" : "—"));
      }
    }
    modal.classList.remove("hidden");
  }

  function fecharModal() {
    pedidoNoModal = null;
    modal.classList.add("hidden");
  }

  document.addEventListener("click", (evento) => {
    const botao = evento.target.closest("button.btn-ruptura");
    if (botao) {
      const r = resultados.get(botao.dataset.pedido);
      if (r) abrirModal(r);
      else reanalisar(botao.dataset.pedido).then(abrirModal);
      return;
    }
    if (evento.target === modal || evento.target.closest("[data-fechar]")) fecharModal();
    if (evento.target.closest("[data-fechar-painel]")) painel.classList.add("hidden");
  });
  document.getElementById("ruptura-reanalisar").addEventListener("click", () => {
    if (pedidoNoModal) reanalisar(pedidoNoModal);
  });
  document.addEventListener("keydown", (evento) => { if (evento.key === "Escape") fecharModal(); });

  iniciar();
})();
