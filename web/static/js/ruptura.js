// Carteira: analyse the ruptura of the visible orders in the workers and show each result as
// it arrives over SSE (no polling). Clicking a button opens the details (each line's stock and
// scheduled entries, in time or not, and its value at risk); "Reanalisar agora" re-analyses
// one order in the web request itself.
"use strict";
(function () {
  const CORES = { CRITICA: "btn-danger", ALTA: "btn-warning", MEDIA: "btn-info", BAIXA: "btn-secondary" };
  const ORIGENS = { producao: "Produção", compra: "Compra", estoque: "Estoque" };
  const SITUACOES = { agora: "Disponível agora", no_prazo: "Chega no prazo", atrasado: "Chega atrasado",
                      sem_previsao: "Sem previsão" };

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

  const numero = (n) => Stockflow.formatNumber(n);
  const dataCurta = (iso) => { const [, m, d] = iso.split("-"); return `${d}/${m}`; };
  const dataBR = (iso) => Stockflow.formatDate(iso);
  const dinheiro = (n) => Stockflow.formatMoney(n);
  const linhas = new Map();
  document.querySelectorAll("tr.pedido-row[data-pedido]").forEach((tr) => linhas.set(tr.dataset.pedido, tr));
  const totalPagina = document.querySelector("#risco-pagina [data-total-risco]");

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
    const linha = linhas.get(r.num_pedido);
    if (linha) {
      const celulaRisco = linha.querySelector(".valor-em-risco");
      const analisado = r.status === "analisado";
      celulaRisco.textContent = analisado ? dinheiro(r.valor_em_risco) : "—";
      celulaRisco.classList.toggle("em-risco", analisado && r.valor_em_risco > 0);
      if (analisado) linha.dataset.valorEmRisco = String(r.valor_em_risco);
    }
    somarPagina();
    if (pedidoNoModal === r.num_pedido) abrirModal(r);
  }

  // Without the carteira's ranking, the page adds up what it has analysed of its own orders.
  function somarPagina() {
    if (!totalPagina) return;
    const analisados = [...linhas.keys()].map((num) => resultados.get(num)).filter((r) => r && r.status === "analisado");
    const total = analisados.reduce((soma, r) => soma + r.valor_em_risco, 0);
    totalPagina.textContent = analisados.length === linhas.size ? dinheiro(total)
      : `${dinheiro(total)} (${analisados.length} de ${linhas.size} pedidos analisados)`;
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

  // The line's drill-down: which stock and which scheduled entries cover how much of it, and
  // what nothing covers.
  function cobertura(item) {
    const lista = document.createElement("ul");
    lista.className = "cobertura";
    for (const c of item.cobertura) {
      const li = document.createElement("li");
      const quando = c.fonte === "estoque" ? "" : ` ${dataBR(c.data)}`;
      li.textContent = `${ORIGENS[c.fonte] || c.fonte}${quando}: ${numero(c.quantidade)}`
        + (c.no_prazo ? "" : " (fora do prazo)");
      li.className = c.no_prazo ? "no-prazo" : "fora-do-prazo";
      lista.append(li);
    }
    if (item.sem_previsao > 0) {
      const li = document.createElement("li");
      li.className = "sem-previsao";
      li.textContent = `Sem previsão: ${numero(item.sem_previsao)}`;
      lista.append(li);
    }
    return lista;
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
        ["Valor do pedido", dinheiro(r.valor_total)],
        ["Valor em risco", `${dinheiro(r.valor_em_risco)} (o que não chega até ${dataBR(r.prazo)})`],
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
        linha.className = `item-${item.situacao}`;
        if (!item.disponivel_agora) linha.classList.add("falta");
        celula(linha, `${item.cod_produto} — ${item.nome_produto}`);
        celula(linha, numero(item.quantidade), "num");
        celula(linha, numero(item.estoque), "num");
        celula(linha, numero(item.disponivel), "num");
        celula(linha, numero(item.falta), "num");
        celula(linha, item.disponivel_agora ? "Agora"
          : (item.data_disponibilidade ? dataBR(item.data_disponibilidade) : "Sem previsão"));
        celula(linha, SITUACOES[item.situacao] || item.situacao);
        linha.insertCell().append(cobertura(item));
        celula(linha, numero(item.falta_no_prazo), "num");
        celula(linha, dinheiro(item.valor_em_risco), "num");
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
