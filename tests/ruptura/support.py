"""Builders for carteira rows (orders, stock, entries) for the ruptura tests."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from core.db import session_scope
from core.models import EntradaProgramada, EstoqueAtual, Pedido, PedidoItem
from core.ruptura.regras import hoje_local


class Carteira:
    """Writes orders, stock and entries; dates are given as days from today."""

    def __init__(self) -> None:
        self.hoje = hoje_local()

    def dia(self, dias: int) -> date:
        return self.hoje + timedelta(days=dias)

    def pedido(self, num: str, itens: Sequence[tuple[str, float, float]],
               entrega_em_dias: int | None = 30) -> str:
        with session_scope() as session:
            pedido = Pedido(num_pedido=num, cliente=f"Cliente {num}", data_pedido=self.dia(-3),
                            data_entrega_prevista=None if entrega_em_dias is None
                            else self.dia(entrega_em_dias))
            session.add(pedido)
            session.flush()
            for cod, qtd, preco in itens:
                session.add(PedidoItem(pedido_id=pedido.id, cod_produto=cod, nome_produto=f"Produto {cod}",
                                       quantidade=Decimal(str(qtd)), preco_unitario=Decimal(str(preco))))
        return num

    def estoque(self, cod: str, qtd: float) -> None:
        with session_scope() as session:
            session.merge(EstoqueAtual(cod_produto=cod, quantidade=Decimal(str(qtd))))

    def entrada(self, cod: str, dias: int, qtd: float, origem: str = "compra") -> None:
        with session_scope() as session:
            session.add(EntradaProgramada(cod_produto=cod, data_prevista=self.dia(dias),
                                          quantidade=Decimal(str(qtd)), origem=origem))


def pedidos_simples(carteira: Carteira, quantos: int, prefixo: str = "T") -> list[str]:
    """Create `quantos` orders of two items each (one in stock, one arriving in 5 days)."""
    carteira.estoque("OK", 1_000_000)
    carteira.estoque("FALTA", 0)
    carteira.entrada("FALTA", 5, 1_000_000)
    return [carteira.pedido(f"{prefixo}{n:04d}", [("OK", 2, 10), ("FALTA", 1, 5)])
            for n in range(quantos)]
