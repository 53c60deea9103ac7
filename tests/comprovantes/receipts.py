"""Generated PIX receipts in the layouts of the big Brazilian banks, with the fields they carry.

Tests and bench/comprovantes.py render them as PNG, JPEG or PDF (with or without a text layer) and
compare what the parser extracts with `Receipt.expected()`.
"""
from __future__ import annotations

import io
import random
import string
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"

MONTHS = ["JAN", "FEV", "MAR", "ABR", "MAI", "JUN", "JUL", "AGO", "SET", "OUT", "NOV", "DEZ"]

PAYER_NAMES = ["Maria Aparecida Souza", "João Pedro Lima", "Ana Beatriz Rocha", "Carlos Eduardo Melo",
               "Fernanda Gonçalves", "Luiz Antônio Pereira", "Patrícia Oliveira", "Rafael Araújo Costa",
               "Juliana Martins", "Marcos Vinícius Dias"]
PAYEE_NAMES = ["Distribuidora Alfa Ltda", "Mercado São Jorge Ltda", "Comercial Brasil Sul SA",
               "Atacado Boa Vista Ltda", "Stockflow Comércio Ltda"]

# bank -> (ISPB, institution as printed)
BANKS = {
    "nubank": ("18236120", "NU PAGAMENTOS - IP"),
    "itau": ("60701190", "ITAU UNIBANCO S.A."),
    "bradesco": ("60746948", "BANCO BRADESCO S.A."),
    "bb": ("00000000", "BANCO DO BRASIL S.A."),
    "caixa": ("00360305", "CAIXA ECONOMICA FEDERAL"),
    "inter": ("00416968", "BANCO INTER S.A."),
    "santander": ("90400888", "BANCO SANTANDER (BRASIL) S.A."),
    "mercadopago": ("10573521", "MERCADO PAGO IP LTDA."),
    "picpay": ("22896431", "PICPAY"),
}
LAYOUTS = tuple(BANKS)


def _check_digits(base: str, weights: list[int]) -> str:
    total = sum(int(d) * w for d, w in zip(base, weights))
    digit = 11 - total % 11
    return "0" if digit >= 10 else str(digit)


def make_cpf(rng: random.Random) -> str:
    base = "".join(rng.choice(string.digits) for _ in range(9))
    base += _check_digits(base, list(range(10, 1, -1)))
    base += _check_digits(base, list(range(11, 1, -1)))
    return f"{base[:3]}.{base[3:6]}.{base[6:9]}-{base[9:]}"


def make_cnpj(rng: random.Random) -> str:
    base = "".join(rng.choice(string.digits) for _ in range(8)) + "0001"
    base += _check_digits(base, [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    base += _check_digits(base, [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    return f"{base[:2]}.{base[2:5]}.{base[5:8]}/{base[8:12]}-{base[12:]}"


def mask_cpf(cpf: str) -> str:
    return "***" + cpf[3:12] + "**"


def brl(value: Decimal) -> str:
    whole, cents = f"{value:.2f}".split(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return f"R$ {'.'.join(groups)},{cents}"


@dataclass
class Party:
    nome: str
    documento: str | None
    instituicao: str | None
    chave_pix: str | None = None


@dataclass
class Receipt:
    layout: str
    valor: Decimal
    quando: datetime
    e2e: str
    pagador: Party
    recebedor: Party
    rows: list[tuple[str, ...]] = field(default_factory=list)

    def expected(self) -> dict[str, Any]:
        """The fields the parser must extract, flattened as bench and tests compare them.

        A party's field the layout does not print is expected to be None (never guessed).
        """
        hidden = HIDDEN_FIELDS.get(self.layout, frozenset())
        out: dict[str, Any] = {"valor": self.valor, "id_transacao": self.e2e,
                               "data_hora": self.quando.strftime("%Y-%m-%dT%H:%M:%S")}
        for role, party in (("pagador", self.pagador), ("recebedor", self.recebedor)):
            for name in ("nome", "documento", "instituicao", "chave_pix"):
                if role == "pagador" and name == "chave_pix":
                    continue
                key = f"{role}.{name}"
                out[key] = None if key in hidden else getattr(party, name)
        return out


def make_receipt(layout: str, seed: int, recebedor: Party | None = None) -> Receipt:
    """Build a receipt in the bank's layout with random (but valid) data."""
    rng = random.Random(f"{layout}-{seed}")
    ispb, institution = BANKS[layout]
    quando = datetime(2026, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                      rng.randint(0, 59), rng.randint(0, 59))
    tail = "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(11))
    e2e = f"E{ispb}{quando:%Y%m%d%H%M}{tail}"
    valor = Decimal(rng.randint(100, 2_500_000)) / 100
    if recebedor is None:
        cnpj = make_cnpj(rng)
        payee_bank = BANKS[rng.choice(LAYOUTS)][1]
        recebedor = Party(rng.choice(PAYEE_NAMES), cnpj, payee_bank,
                          rng.choice([cnpj, f"financeiro{rng.randint(1, 99)}@empresa.com.br"]))
    pagador = Party(rng.choice(PAYER_NAMES), mask_cpf(make_cpf(rng)), institution)
    receipt = Receipt(layout, valor, quando, e2e, pagador, recebedor)
    receipt.rows = ROW_BUILDERS[layout](receipt)
    return receipt


# Row kinds: ("title", text) ("header", text) ("kv", label, value) ("text", text)

def _nubank(r: Receipt) -> list[tuple[str, ...]]:
    q = r.quando
    return [("title", "Comprovante de transferência"),
            ("text", f"{q.day:02d} {MONTHS[q.month - 1]} {q.year} - {q:%H:%M:%S}"),
            ("kv", "Valor", brl(r.valor)), ("kv", "Tipo de transferência", "Pix"),
            ("header", "Destino"), ("kv", "Nome", r.recebedor.nome),
            ("kv", "CNPJ", r.recebedor.documento), ("kv", "Instituição", r.recebedor.instituicao),
            ("kv", "Agência", "1234"), ("kv", "Conta", "12345-6"),
            ("kv", "Chave Pix", r.recebedor.chave_pix),
            ("header", "Origem"), ("kv", "Nome", r.pagador.nome),
            ("kv", "Instituição", r.pagador.instituicao), ("kv", "Agência", "0001"),
            ("kv", "CPF", r.pagador.documento),
            ("text", "ID da transação:"), ("text", r.e2e)]


def _itau(r: Receipt) -> list[tuple[str, ...]]:
    q = r.quando
    return [("title", "Comprovante de pagamento PIX"),
            ("kv", "valor", brl(r.valor)),
            ("kv", "data do pagamento", f"{q:%d/%m/%Y}"), ("kv", "horário", f"{q:%H:%M:%S}"),
            ("header", "dados do recebedor"), ("kv", "nome do recebedor", r.recebedor.nome),
            ("kv", "CPF/CNPJ", r.recebedor.documento), ("kv", "instituição", r.recebedor.instituicao),
            ("kv", "chave", r.recebedor.chave_pix),
            ("header", "dados do pagador"), ("kv", "nome do pagador", r.pagador.nome),
            ("kv", "CPF", r.pagador.documento), ("kv", "instituição", r.pagador.instituicao),
            ("kv", "ID da transação", r.e2e)]


def _bradesco(r: Receipt) -> list[tuple[str, ...]]:
    q = r.quando
    return [("title", "Comprovante de Transação Pix"),
            ("kv", "Data e Hora", f"{q:%d/%m/%Y} - {q:%H:%M:%S}"),
            ("header", "Dados de quem recebeu"), ("kv", "Nome", r.recebedor.nome),
            ("kv", "CNPJ", r.recebedor.documento), ("kv", "Instituição", r.recebedor.instituicao),
            ("kv", "Chave", r.recebedor.chave_pix),
            ("header", "Dados de quem pagou"), ("kv", "Nome", r.pagador.nome),
            ("kv", "CPF", r.pagador.documento), ("kv", "Instituição", r.pagador.instituicao),
            ("kv", "Valor", brl(r.valor)), ("kv", "Tarifa", "R$ 0,00"),
            ("kv", "Número de Controle", r.e2e)]


def _bb(r: Receipt) -> list[tuple[str, ...]]:
    q = r.quando
    return [("title", "Comprovante Pix"), ("text", "BANCO DO BRASIL"),
            ("kv", "DATA", f"{q:%d/%m/%Y}"), ("kv", "HORA", f"{q:%H:%M:%S}"),
            ("kv", "VALOR", brl(r.valor).replace("R$ ", "")),
            ("kv", "PAGO PARA", r.recebedor.nome), ("kv", "CNPJ", r.recebedor.documento),
            ("kv", "INSTITUICAO", r.recebedor.instituicao), ("kv", "CHAVE PIX", r.recebedor.chave_pix),
            ("kv", "PAGADOR", r.pagador.nome), ("kv", "CPF", r.pagador.documento),
            ("kv", "DOCUMENTO", "112233"),
            ("kv", "ID", r.e2e)]


def _caixa(r: Receipt) -> list[tuple[str, ...]]:
    q = r.quando
    return [("title", "Comprovante de Pix enviado"),
            ("text", f"Realizado em {q:%d/%m/%Y} às {q:%H:%M:%S}"),
            ("kv", "Valor", brl(r.valor)),
            ("header", "Dados do recebedor"), ("kv", "Nome", r.recebedor.nome),
            ("kv", "CPF/CNPJ", r.recebedor.documento), ("kv", "Instituição", r.recebedor.instituicao),
            ("kv", "Chave Pix", r.recebedor.chave_pix),
            ("header", "Dados do pagador"), ("kv", "Nome", r.pagador.nome),
            ("kv", "CPF/CNPJ", r.pagador.documento), ("kv", "Instituição", r.pagador.instituicao),
            ("kv", "Identificador", r.e2e)]


def _inter(r: Receipt) -> list[tuple[str, ...]]:
    q = r.quando
    return [("title", "Pix enviado"), ("text", brl(r.valor)),
            ("text", f"{q:%d/%m/%Y} {q:%H:%M:%S}"),
            ("header", "Quem recebeu"), ("text", r.recebedor.nome),
            ("kv", "CNPJ", r.recebedor.documento), ("kv", "Instituição", r.recebedor.instituicao),
            ("kv", "Chave Pix", r.recebedor.chave_pix),
            ("header", "Quem pagou"), ("text", r.pagador.nome),
            ("kv", "CPF", r.pagador.documento), ("kv", "Instituição", r.pagador.instituicao),
            ("kv", "ID da transação", r.e2e)]


def _santander(r: Receipt) -> list[tuple[str, ...]]:
    q = r.quando
    return [("title", "Comprovante do Pix"),
            ("kv", "Valor pago", brl(r.valor)),
            ("kv", "Data da transferência", f"{q:%d/%m/%Y}"), ("kv", "Hora", f"{q:%H:%M:%S}"),
            ("header", "Favorecido"), ("kv", "Nome", r.recebedor.nome),
            ("kv", "CNPJ", r.recebedor.documento), ("kv", "Banco", r.recebedor.instituicao),
            ("kv", "Chave Pix", r.recebedor.chave_pix),
            ("header", "Pagador"), ("kv", "Nome", r.pagador.nome),
            ("kv", "CPF", r.pagador.documento), ("kv", "Banco", r.pagador.instituicao),
            ("kv", "ID/Transação", r.e2e)]


def _mercadopago(r: Receipt) -> list[tuple[str, ...]]:
    q = r.quando
    return [("title", "Comprovante de transferência"),
            ("text", f"{q.day:02d} de {MONTHS_LONG[q.month - 1]} de {q.year}, às {q:%H:%M:%S}"),
            ("text", brl(r.valor)),
            ("header", "De"), ("text", r.pagador.nome), ("kv", "CPF", r.pagador.documento),
            ("text", r.pagador.instituicao),
            ("header", "Para"), ("text", r.recebedor.nome), ("kv", "CNPJ", r.recebedor.documento),
            ("text", r.recebedor.instituicao), ("kv", "Chave", r.recebedor.chave_pix),
            ("text", "Número da transação"), ("text", r.e2e)]


def _picpay(r: Receipt) -> list[tuple[str, ...]]:
    q = r.quando
    return [("title", "Comprovante de Pix"),
            ("kv", "Valor", brl(r.valor)), ("kv", "Data", f"{q:%d/%m/%Y} às {q:%H:%M:%S}"),
            ("kv", "Pagador", r.pagador.nome), ("kv", "CPF do pagador", r.pagador.documento),
            ("kv", "Instituição do pagador", r.pagador.instituicao),
            ("kv", "Recebedor", r.recebedor.nome), ("kv", "CNPJ do recebedor", r.recebedor.documento),
            ("kv", "Instituição do recebedor", r.recebedor.instituicao),
            ("kv", "Chave Pix do recebedor", r.recebedor.chave_pix),
            ("kv", "ID da transação", r.e2e)]


# Fields a layout does not print at all (Banco do Brasil leaves out the payer's bank).
HIDDEN_FIELDS = {"bb": frozenset({"pagador.instituicao"})}

MONTHS_LONG = ["janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
               "setembro", "outubro", "novembro", "dezembro"]

ROW_BUILDERS = {"nubank": _nubank, "itau": _itau, "bradesco": _bradesco, "bb": _bb,
                "caixa": _caixa, "inter": _inter, "santander": _santander,
                "mercadopago": _mercadopago, "picpay": _picpay}

# How each bank prints a label/value pair: value right-aligned, "label: value", or stacked.
KV_STYLE = {"nubank": "split", "itau": "inline", "bradesco": "split", "bb": "split",
            "caixa": "stacked", "inter": "split", "santander": "stacked",
            "mercadopago": "inline", "picpay": "split"}

WIDTH, MARGIN, SIZE = 620, 24, 17


def _lines(receipt: Receipt) -> list[tuple[str, str, str]]:
    """Flatten rows to (style, left, right) print lines for the layout."""
    out: list[tuple[str, str, str]] = []
    kv = KV_STYLE[receipt.layout]
    for kind, *parts in receipt.rows:
        if kind == "kv":
            label, value = parts
            if value is None:
                continue
            if kv == "split":
                out.append(("split", label, value))
            elif kv == "inline":
                out.append(("text", f"{label}: {value}", ""))
            else:
                out.append(("small", label, ""))
                out.append(("text", value, ""))
        elif parts[0] is not None:
            out.append((kind, parts[0], ""))
    return out


def render_png(receipt: Receipt, fmt: str = "PNG") -> bytes:
    """Draw the receipt as an image (PNG or JPEG bytes)."""
    fonts = {"title": ImageFont.truetype(str(FONT_BOLD), SIZE + 5),
             "header": ImageFont.truetype(str(FONT_BOLD), SIZE + 1),
             "small": ImageFont.truetype(str(FONT), SIZE - 2),
             "text": ImageFont.truetype(str(FONT), SIZE)}
    lines = _lines(receipt)
    height = MARGIN * 2 + sum(int((SIZE + 5 if s == "title" else SIZE) * 1.9) for s, _, _ in lines)
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    y = MARGIN
    for style, left, right in lines:
        font = fonts.get(style, fonts["text"])
        color = (90, 90, 90) if style in ("small", "split") else (0, 0, 0)
        draw.text((MARGIN, y), left, font=font, fill=color)
        if right:
            value_font = fonts["text"]
            width = draw.textlength(right, font=value_font)
            draw.text((WIDTH - MARGIN - width, y), right, font=value_font, fill=(0, 0, 0))
        y += int((SIZE + 5 if style == "title" else SIZE) * 1.9)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def render_pdf(receipt: Receipt, text_layer: bool = True) -> bytes:
    """Draw the receipt as a one-page PDF: real text, or only a picture of it (a scan)."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    if not text_layer:
        png = render_png(receipt)
        image = Image.open(io.BytesIO(png))
        pdf = canvas.Canvas(buffer, pagesize=(image.width * 0.75, image.height * 0.75))
        pdf.drawImage(ImageReader(image), 0, 0, image.width * 0.75, image.height * 0.75)
        pdf.showPage()
        pdf.save()
        return buffer.getvalue()
    if "DejaVu" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVu", str(FONT)))
        pdfmetrics.registerFont(TTFont("DejaVu-Bold", str(FONT_BOLD)))
    lines = _lines(receipt)
    page_w, page_h = 420, 40 + 22 * len(lines)
    pdf = canvas.Canvas(buffer, pagesize=(page_w, page_h))
    y = page_h - 30
    for style, left, right in lines:
        pdf.setFont("DejaVu-Bold" if style in ("title", "header") else "DejaVu", 11)
        pdf.drawString(20, y, left)
        if right:
            pdf.drawRightString(page_w - 20, y, right)
        y -= 22
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


# Names and institutions are compared ignoring case, accents and spaces: the offline engine's
# recognizer (PP-OCR, trained mostly on Chinese) drops Portuguese accents and some spaces.
TEXT_FIELDS = frozenset({"pagador.nome", "pagador.instituicao", "recebedor.nome", "recebedor.instituicao"})


def flatten(dados: Any) -> dict[str, Any]:
    """Flatten a parsed DadosPix like Receipt.expected()."""
    out = {"valor": dados.valor, "data_hora": dados.data_hora, "id_transacao": dados.id_transacao}
    for party in ("pagador", "recebedor"):
        for name in ("nome", "documento", "instituicao", "chave_pix"):
            if party == "pagador" and name == "chave_pix":
                continue
            out[f"{party}.{name}"] = getattr(getattr(dados, party), name)
    return out


def _loose(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    import unicodedata

    folded = "".join(ch for ch in unicodedata.normalize("NFD", value) if not unicodedata.combining(ch))
    return "".join(folded.casefold().split())


def mismatches(receipt: Receipt, dados: Any, strict_text: bool = False) -> dict[str, tuple[Any, Any]]:
    """Return {field: (expected, got)} for every field the parser got wrong."""
    got = flatten(dados)
    bad = {}
    for name, expected in receipt.expected().items():
        value = got.get(name)
        if name in TEXT_FIELDS and not strict_text:
            expected, value = _loose(expected), _loose(value)
        if expected != value:
            bad[name] = (expected, value)
    return bad
