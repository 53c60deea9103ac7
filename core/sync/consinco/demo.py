"""Demo rows for the NAGV_PLUSOFT_* source tables: a few thousand per entity, bulk inserted."""
from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from core.settings import get_settings
from core.sync.consinco.models import (
    ConsincoCliente,
    ConsincoFilial,
    ConsincoProduto,
    ConsincoVenda,
)

CIDADES = (("São Paulo", "SP"), ("Campinas", "SP"), ("Curitiba", "PR"), ("Belo Horizonte", "MG"),
           ("Goiânia", "GO"), ("Salvador", "BA"), ("Recife", "PE"), ("Porto Alegre", "RS"))
MARCAS = ("Tio João", "Camil", "Pilão", "União", "Italac", "Liza", "Renata", "Dona Benta", "Ypê")
CATEGORIAS = (("Mercearia", "Grãos"), ("Mercearia", "Massas"), ("Bebidas", "Café"),
              ("Laticínios", "Leite"), ("Limpeza", "Detergentes"), ("Padaria", "Biscoitos"))
NOMES = ("Ana", "Bruno", "Carla", "Diego", "Elaine", "Fábio", "Gisele", "Heitor", "Iara", "João")
SOBRENOMES = ("Silva", "Souza", "Oliveira", "Santos", "Pereira", "Lima", "Costa", "Almeida")
PAGAMENTOS = ((1, "DINHEIRO"), (2, "CARTÃO DE DÉBITO"), (3, "CARTÃO DE CRÉDITO"), (4, "PIX"))

FILIAIS, PRODUTOS, CLIENTES, VENDAS = 25, 3_000, 2_000, 5_000
FIRST_PRODUTO, FIRST_PESSOA = 1001, 500_001


def load_consinco(session: Session) -> str:
    """Fill the demo source tables once (skipped when a real Consinco URL is configured)."""
    if get_settings().consinco_url:
        return "fonte Consinco real configurada: nada a carregar"
    if session.scalar(select(func.count()).select_from(ConsincoVenda)):
        return "NAGV_PLUSOFT_* já têm dados"
    rng = random.Random(7)
    now = datetime.now().replace(microsecond=0)
    session.execute(insert(ConsincoFilial), list(filiais(rng, now)))
    session.execute(insert(ConsincoProduto), list(produtos(rng, now, PRODUTOS)))
    session.execute(insert(ConsincoCliente), list(clientes(rng, now, CLIENTES)))
    session.execute(insert(ConsincoVenda), list(vendas(rng, date.today(), VENDAS)))
    return (f"fonte Consinco demo: {FILIAIS} filiais, {PRODUTOS} produtos, "
            f"{CLIENTES} clientes, {VENDAS} vendas")


def _changed(rng: random.Random, now: datetime) -> datetime:
    """A DTAALTERACAO within the last 90 days."""
    return now - timedelta(minutes=rng.randrange(60, 90 * 24 * 60))


def _cep(rng: random.Random) -> str:
    return f"{rng.randrange(10000, 99999)}-{rng.randrange(100, 999)}"


def filiais(rng: random.Random, now: datetime) -> Iterator[dict[str, Any]]:
    for n in range(1, FILIAIS + 1):
        cidade, uf = rng.choice(CIDADES)
        yield {"IDFILIAL": n, "TXTNOMEFILIAL": f"  Loja {n:03d} ",
               "TXTRAZAOSOCIAL": "Stockflow Varejo Ltda",
               "NUMCNPJ": f"12.345.678/{n:04d}-{rng.randrange(10, 99)}",
               "TXTLOGRADOURO": f"Rua {rng.choice(SOBRENOMES)}, {rng.randrange(1, 2000)}",
               "TXTBAIRRO": "Centro", "TXTCIDADE": cidade, "TXTUF": uf, "NUMCEP": _cep(rng),
               "TXTSTATUS": "A" if n < FILIAIS else "I", "DTAALTERACAO": _changed(rng, now)}


def produtos(rng: random.Random, now: datetime, count: int) -> Iterator[dict[str, Any]]:
    for n in range(count):
        categoria, sub = rng.choice(CATEGORIAS)
        marca = rng.choice(MARCAS)
        yield {"IDPRODUTO": FIRST_PRODUTO + n,
               "TXTDESCRICAO": f"{sub} {marca} {rng.choice(['1kg', '500g', '1L'])}",
               "TXTDESCRICAOREDUZIDA": f"{sub[:10]} {marca[:8]}",
               "NUMEAN": f"789{rng.randrange(10**9, 10**10)}",
               "TXTMARCA": marca, "TXTCATEGORIA": categoria, "TXTSUBCATEGORIA": sub,
               "TXTEMBALAGEM": rng.choice(["UN", "CX", "FD"]),
               "NUMQTDEMBALAGEM": Decimal(rng.choice([1, 6, 12, 24])),
               "TXTSTATUS": rng.choice("AAAAAAAAAI"),
               "DTACADASTRO": (now - timedelta(days=rng.randrange(100, 2000))).date(),
               "DTAALTERACAO": _changed(rng, now)}


def clientes(rng: random.Random, now: datetime, count: int) -> Iterator[dict[str, Any]]:
    for n in range(count):
        cidade, uf = rng.choice(CIDADES)
        nome = f"{rng.choice(NOMES)} {rng.choice(SOBRENOMES)}"
        cpf = "{}.{}.{}-{}".format(*(rng.randrange(100, 999) for _ in range(3)),
                                   rng.randrange(10, 99))
        email = f"{nome.split()[0].lower()}{n}@exemplo.com.br" if rng.random() < 0.7 else None
        yield {"IDPESSOA": FIRST_PESSOA + n, "TXTNOME": nome, "TXTTIPOPESSOA": "F",
               "NUMCPFCNPJ": cpf, "TXTEMAIL": email,
               "NUMTELEFONE": f"(11) 9{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}",
               "DATNASCIMENTO": date(rng.randrange(1950, 2005), rng.randrange(1, 13),
                                     rng.randrange(1, 29)),
               "TXTSEXO": rng.choice("FM"), "TXTCIDADE": cidade, "TXTUF": uf,
               "NUMCEP": _cep(rng),
               "DTACADASTRO": (now - timedelta(days=rng.randrange(10, 1500))).date(),
               "DTAALTERACAO": _changed(rng, now)}


def vendas(rng: random.Random, today: date, count: int, days: int = 30,
           lines_per_cupom: int = 4) -> Iterator[dict[str, Any]]:
    """Sales of the `days` days before today, `lines_per_cupom` products per receipt."""
    per_day = max(1, -(-count // days))
    made = 0
    cupom = 0
    while made < count:
        day = today - timedelta(days=days - made // per_day)
        cupom += 1
        filial = rng.randrange(1, FILIAIS)
        pessoa = FIRST_PESSOA + rng.randrange(CLIENTES) if rng.random() < 0.6 else None
        forma, forma_txt = rng.choice(PAGAMENTOS)
        lines = min(lines_per_cupom, count - made)
        for produto in rng.sample(range(FIRST_PRODUTO, FIRST_PRODUTO + PRODUTOS), lines):
            preco = Decimal(rng.randrange(199, 5999)) / 100
            desconto = Decimal(rng.choice([0, 0, 0, 10, 50])) / 100
            yield {"IDPESSOA": pessoa, "IDFILIAL": filial, "IDCUPOM": cupom,
                   "IDPRODUTO": produto, "DATVENDA": day,
                   "NUMQTDVENDIDA": Decimal(rng.randrange(1, 6)),
                   "VLRPRECOVENDAUNITARIO": preco - desconto, "VLRPRECOPDVUNITARIO": preco,
                   "VLRDESCONTOUNITARIO": desconto,
                   "VLRMARGEMPDV": (preco * Decimal("0.22")).quantize(Decimal("0.01")),
                   "TXTCANALVENDAS": "LOJA FÍSICA", "TXTTIPOVENDA": "VENDA",
                   "IDFORMAPAGTO": forma, "TXTFORMAPAGTO": forma_txt}
            made += 1
