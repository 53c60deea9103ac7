"""Demo carteira: open orders, stock and scheduled entries in which every ruptura case occurs.

`load_carteira` is the demo loader (core.demo.DEMO_LOADERS); `gerar_carteira` + `inserir`
also feed the benchmark. Rows go in with bulk INSERTs, so 2,000 orders load in about a second.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from core.models import EntradaProgramada, EstoqueAtual, Pedido, PedidoItem
from core.models.ruptura import ORIGEM_COMPRA, ORIGEM_PRODUCAO
from core.models.types import utcnow
from core.ruptura.regras import hoje_local

CLIENTES = ("Mercado Bom Preço", "Atacadão Central", "Supermercado Real", "Empório São João",
            "Rede Economia", "Distribuidora Norte", "Mercadinho da Vila", "Hiper Sul",
            "Armazém Paulista", "Casa do Sabor", "Comercial Aurora", "Mercado Ipê")
PALAVRAS = ("Arroz", "Feijão", "Café", "Açúcar", "Leite", "Óleo", "Macarrão", "Farinha",
            "Sabão", "Detergente", "Biscoito", "Molho", "Azeite", "Sal", "Vinagre")
MEDIDAS = ("1kg", "500g", "2L", "1L", "5kg", "cx 12un", "fardo 6un")
OBSERVACOES = ("Entregar pela manhã", "Cliente pede agendamento", "Carga paletizada",
               "Conferir validade na entrega", None, None, None, None)

# How products are stocked: (share of products, kind). Orders draw from them, so each
# ruptura case shows up on every page.
PERFIS = ((0.66, "farto"), (0.14, "baixo_com_entrada"), (0.10, "zerado_com_entrada"),
          (0.06, "entrada_exata"), (0.02, "nunca"), (0.02, "so_entrada_passada"))


@dataclass
class Carteira:
    pedidos: list[dict[str, Any]] = field(default_factory=list)
    itens: list[dict[str, Any]] = field(default_factory=list)
    estoque: list[dict[str, Any]] = field(default_factory=list)
    entradas: list[dict[str, Any]] = field(default_factory=list)


def gerar_carteira(n_pedidos: int, max_itens: int, hoje: date, seed: int = 2026,
                   n_produtos: int = 600) -> Carteira:
    """Build a carteira of n_pedidos open orders with 1..max_itens items each.

    The first orders are the named cases (no items, zero price, exact entries...); the
    rest are random over products of every stock profile.
    """
    rng = random.Random(seed)
    carteira = Carteira()
    perfis: dict[str, list[str]] = {kind: [] for _, kind in PERFIS}
    nomes: dict[str, str] = {}
    for n in range(1, n_produtos + 1):
        cod = f"P{n:05d}"
        nomes[cod] = f"{rng.choice(PALAVRAS)} {rng.choice(MEDIDAS)}"
        kind = _sortear_perfil(rng)
        perfis[kind].append(cod)
        _estoque_do_perfil(carteira, rng, cod, kind, hoje)
    agora = utcnow()

    def pedido(num: int, itens: list[tuple[str, Decimal, Decimal]], entrega: date | None) -> None:
        carteira.pedidos.append({
            "id": num, "num_pedido": f"PED-{num:06d}", "cliente": rng.choice(CLIENTES),
            "data_pedido": hoje - timedelta(days=rng.randrange(1, 40)),
            "data_entrega_prevista": entrega, "observacao": rng.choice(OBSERVACOES),
            "aberto": True, "created_at": agora})
        for cod, qtd, preco in itens:
            carteira.itens.append({
                "id": len(carteira.itens) + 1, "pedido_id": num, "cod_produto": cod,
                "nome_produto": nomes[cod], "quantidade": qtd, "preco_unitario": preco})

    def linha(kind: str) -> tuple[str, Decimal, Decimal]:
        cod = rng.choice(perfis[kind] or perfis["farto"])
        return cod, Decimal(rng.randrange(1, 40)), Decimal(rng.randrange(150, 9000)) / 100

    def entrega() -> date:
        return hoje + timedelta(days=rng.randrange(-5, 45))

    # The named cases first (PED-000001..), so they are on the first page too.
    casos = [
        ([], entrega()),                                                      # no items
        ([linha("farto") for _ in range(3)], entrega()),                      # stock OK
        ([linha("zerado_com_entrada"), linha("farto")], entrega()),           # zero stock
        ([(c, Decimal(40), p) for c, _, p in [linha("entrada_exata")]], entrega()),  # exact
        ([linha("nunca"), linha("farto")], entrega()),                        # never available
        ([(c, q, Decimal("0")) for c, q, _ in (linha("farto"), linha("baixo_com_entrada"))],
         entrega()),                                                          # zero price
        ([linha("so_entrada_passada")], entrega()),                           # past entries only
        ([linha("zerado_com_entrada")], hoje - timedelta(days=2)),            # late: ALTA
        ([linha("baixo_com_entrada")] * 2 + [linha("farto")], entrega()),     # same product twice
        ([linha("farto")], None),                                             # no delivery date
    ]
    for num, (itens, data) in enumerate(casos[:n_pedidos], start=1):
        pedido(num, itens, data)
    for num in range(len(casos) + 1, n_pedidos + 1):
        n_itens = rng.randint(1, max_itens)
        # a third of the orders only take well-stocked products, so "Estoque OK" is common
        if rng.random() < 0.35:
            itens = [linha("farto") for _ in range(n_itens)]
        else:
            itens = [linha(_sortear_perfil(rng)) for _ in range(n_itens)]
        pedido(num, itens, entrega())
    return carteira


def _sortear_perfil(rng: random.Random) -> str:
    sorteio = rng.random()
    for share, kind in PERFIS:
        if sorteio < share:
            return kind
        sorteio -= share
    return PERFIS[0][1]


def _estoque_do_perfil(carteira: Carteira, rng: random.Random, cod: str, kind: str,
                       hoje: date) -> None:
    def entrada(dias: int, qtd: int) -> None:
        carteira.entradas.append({
            "id": len(carteira.entradas) + 1, "cod_produto": cod,
            "data_prevista": hoje + timedelta(days=dias), "quantidade": Decimal(qtd),
            "origem": rng.choice((ORIGEM_PRODUCAO, ORIGEM_COMPRA))})

    def estoque(qtd: int) -> None:
        carteira.estoque.append({"cod_produto": cod, "quantidade": Decimal(qtd),
                                 "updated_at": utcnow()})

    if kind == "farto":
        estoque(rng.randrange(5_000, 20_000))
    elif kind == "baixo_com_entrada":
        estoque(rng.randrange(1, 25))
        for _ in range(rng.randrange(1, 4)):
            entrada(rng.randrange(0, 40), rng.randrange(20, 200))
        entrada(rng.randrange(40, 60), 100_000)
    elif kind == "zerado_com_entrada":
        estoque(0)
        entrada(rng.randrange(1, 30), rng.randrange(5, 60))
        entrada(rng.randrange(30, 60), 100_000)
    elif kind == "entrada_exata":
        # stock + entries reach exactly 20 and then exactly 40
        estoque(10)
        entrada(rng.randrange(1, 10), 10)
        entrada(rng.randrange(10, 20), 20)
    elif kind == "so_entrada_passada":
        estoque(0)
        entrada(-rng.randrange(1, 15), 100_000)
    # "nunca": no stock row and no entries at all


def inserir(session: Session, carteira: Carteira) -> None:
    """Bulk-insert a generated carteira (parents first)."""
    for model, rows in ((Pedido, carteira.pedidos), (PedidoItem, carteira.itens),
                        (EstoqueAtual, carteira.estoque),
                        (EntradaProgramada, carteira.entradas)):
        if rows:
            session.execute(insert(model), rows)


def load_carteira(session: Session) -> str:
    """~2,000 open orders with 1-30 items, stock and scheduled entries, once."""
    if session.scalar(select(func.count()).select_from(Pedido)):
        return "carteira já tem dados"
    carteira = gerar_carteira(2_000, 30, hoje_local())
    inserir(session, carteira)
    return (f"{len(carteira.pedidos)} pedidos em aberto, {len(carteira.itens)} itens, "
            f"{len(carteira.estoque)} estoques, {len(carteira.entradas)} entradas programadas")
