"""The receipt's own checks: E2E id against date/time and ISPB, CPF/CNPJ check digits, amount in words,
and how two engines' readings become one set of rated fields (no OCR here: texts as engines print them)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from core.comprovantes import checks
from core.comprovantes.ocr.combine import Reading, combine, merge_text
from core.comprovantes.pix import FIELDS
from tests.comprovantes.receipts import BANKS, amount_in_words

# Nubank (ISPB 18236120), 22/11/2026 14:35 in Brasília = 17:35 UTC in the id
E2E = "E18236120202611221735s0123456789"
WHEN = "2026-11-22T14:35:10"
NUBANK = "NU PAGAMENTOS - IP"


def test_e2e_consistent_with_the_receipt_passes() -> None:
    assert checks.check_e2e(E2E, WHEN, NUBANK).status == checks.OK
    # date only: the UTC day may be the next one after 21:00
    assert checks.check_e2e(E2E, "2026-11-22", NUBANK).status == checks.OK
    # some institutions stamp local time
    assert checks.check_e2e("E18236120202611221435s0123456789", WHEN, NUBANK).status == checks.OK


def test_e2e_lookalike_letters_in_its_digits_are_read_back() -> None:
    found = checks.e2e_candidates("ID: E182361202O2611221735sO123456789")
    assert found == ["E18236120202611221735sO123456789"]
    assert checks.e2e_candidates("IDE1823612O2O2611221735s0123456789") == [E2E]
    assert checks.e2e_candidates("E1823612020261122l735s01234567890") == []  # 12 free characters: not an id


def test_one_wrong_digit_is_corrected_by_the_date_or_the_bank() -> None:
    wrong_minute = "E18236120202611221785s0123456789"   # 17:85
    assert checks.check_e2e(wrong_minute, WHEN, NUBANK) == checks.Resultado(
        E2E, checks.CORRIGIDO, "um dígito do ID da transação corrigido pela data/ISPB")
    wrong_hour = "E18236120202611221935s0123456789"     # a valid time, but not the receipt's
    assert checks.check_e2e(wrong_hour, WHEN, NUBANK).valor == E2E
    wrong_ispb = "E18286120202611221735s0123456789"
    assert checks.check_e2e(wrong_ispb, WHEN, NUBANK).valor == E2E


def test_e2e_that_no_single_reading_fixes_is_doubtful() -> None:
    other_day = "E18236120202611251735s0123456789"     # the 25th: one digit, but the hour too
    assert checks.check_e2e(other_day, "2026-11-22T10:05", NUBANK).status == checks.FALHOU
    other_bank = "E60701190202611221735s0123456789"    # Itaú's ISPB on a Nubank receipt
    assert checks.check_e2e(other_bank, WHEN, NUBANK).status == checks.FALHOU
    # no payer bank printed: any bank of the table, time checked
    assert checks.check_e2e(other_bank, WHEN, None).status == checks.OK


def test_ispb_table_knows_every_bank_as_receipts_print_it() -> None:
    for ispb, printed in BANKS.values():
        found = checks.instituicao_por_nome(printed)
        assert found is not None and found.ispb == ispb, printed
    assert checks.instituicao_por_nome("BANCOINTERS.A.").ispb == "00416968"  # spaces dropped by OCR
    assert checks.instituicao_por_nome("Padaria Central") is None
    assert len(checks.instituicoes()) >= 40


def test_cpf_cnpj_one_misread_digit_is_corrected_when_alone() -> None:
    assert checks.check_documento("529.982.247-25").status == checks.OK
    fixed = checks.check_documento("529.982.247-26")
    assert fixed.status == checks.CORRIGIDO and fixed.valor == "529.982.247-25"
    assert checks.check_documento("11.222.333/0001-87").valor == "11.222.333/0001-81"
    assert checks.check_documento("***.982.247-**").status is None  # masked: nothing to check
    # two digits wrong: no single reading
    assert checks.check_documento("059.982.247-25").status == checks.FALHOU


@pytest.mark.parametrize("amount", ["0.45", "1.01", "100.00", "120.50", "1000.00", "1200.00", "1234.56",
                                    "21.10", "999.99", "25000.99"])
def test_amount_in_words_reads_back(amount: str) -> None:
    value = Decimal(amount)
    assert checks.amount_from_words(f"({amount_in_words(value)})") == value
    assert checks.amount_from_words(amount_in_words(value).upper()) == value


def test_amount_in_words_decides_and_a_misread_word_decides_nothing() -> None:
    text = "Valor R$ 120,50\n(cento e vinte reais e cinquenta centavos)"
    assert checks.check_amount(Decimal("120.50"), [text]).status == checks.OK
    corrected = checks.check_amount(Decimal("126.50"), [text])
    assert corrected.status == checks.CORRIGIDO and corrected.valor == "120.50"
    assert checks.amount_from_words("(cento e vinte reais e cinquenla centavos)") is None
    assert checks.check_amount(Decimal("5.00"), ["Valor R$ 5,00"]).status is None


RAPID = """Comprovante Pix
R$ 120,50
22/11/2026 - 14:35:10
Para Padaria Pao de Acucar Ltda
CNPJ 11.222.333/0001-81
Banco BANCOINTERS.A.
De Joao Pedro Lima
CPF ***.123.456-**
Banco NUPAGAMENTOS-IP
ID E18236120202611221735s0123456789"""
TESS = """Comprovante Pix
R$ 120,50
22/11/2026 - 14:35:10
Para Padaria Pão de Açúcar Ltda
CNP) 11.222.333/0001-81
Banco BANCO INTER S.A.
De João Pedro Lima
CPF ***.123.456-**
Banco NU PAGAMENTOS - IP
ID E18236120202611221735s0123456789"""


def test_two_engines_make_one_reading_with_a_confidence_per_field() -> None:
    dados = combine([Reading("offline", RAPID), Reading("tesseract", TESS)], threshold=0.7)
    assert dados.recebedor.nome == "Padaria Pão de Açúcar Ltda"   # tesseract's accents and spaces
    assert dados.pagador.nome == "João Pedro Lima"
    assert dados.recebedor.instituicao == "BANCO INTER S.A."
    assert dados.recebedor.documento == "11.222.333/0001-81"      # RapidOCR's, where tesseract read "CNP)"
    assert dados.id_transacao == E2E and dados.valor == Decimal("120.50")
    assert set(dados.confianca) == set(FIELDS) and all(0 <= v <= 1 for v in dados.confianca.values())
    assert dados.confianca["id_transacao"] >= 0.7 and dados.confianca["valor"] >= 0.9
    assert dados.confianca["recebedor.chave_pix"] == 0.0            # not printed
    assert dados.duvidosos == []
    as_json = dados.as_json()
    assert as_json["confianca"] == dados.confianca and as_json["duvidosos"] == []


def test_disagreement_nothing_decides_is_doubtful() -> None:
    tess = TESS.replace("R$ 120,50", "R$ 126,50")
    dados = combine([Reading("offline", RAPID), Reading("tesseract", tess)], threshold=0.7)
    assert dados.valor == Decimal("120.50") and "valor" in dados.duvidosos
    # the same disagreement, with the amount in words printed: decided, not doubtful
    words = "\n(cento e vinte reais e cinquenta centavos)"
    dados = combine([Reading("offline", RAPID + words), Reading("tesseract", tess + words)], threshold=0.7)
    assert dados.valor == Decimal("120.50") and "valor" not in dados.duvidosos
    # a threshold above every confidence: every field read is doubtful
    strict = combine([Reading("offline", RAPID), Reading("tesseract", TESS)], threshold=1.0)
    assert set(strict.duvidosos) == {name for name in FIELDS if strict.get(name) is not None}


def test_invalid_document_that_cannot_be_fixed_is_doubtful() -> None:
    text = RAPID.replace("11.222.333/0001-81", "11.222.333/0001-99")
    dados = combine([Reading("google", text)], threshold=0.7)
    assert dados.recebedor.documento == "11.222.333/0001-99" and "recebedor.documento" in dados.duvidosos
    assert dados.confianca["recebedor.documento"] < 0.5


def test_the_ids_free_characters_split_between_look_alikes_are_doubtful() -> None:
    tess = TESS.replace(E2E, E2E[:22] + "O" + E2E[23:])  # s0123... read sO123...
    dados = combine([Reading("offline", RAPID), Reading("tesseract", tess)], threshold=0.7)
    assert dados.id_transacao == E2E and "id_transacao" in dados.duvidosos
    assert dados.confianca["id_transacao"] < 0.7


def test_the_ids_free_characters_split_otherwise_keep_the_most_read_less_sure() -> None:
    tess = TESS.replace(E2E, E2E[:24] + "7" + E2E[25:])  # s0123... read s0173...: no look-alikes
    dados = combine([Reading("offline", RAPID), Reading("tesseract", tess)], threshold=0.7)
    assert dados.id_transacao == E2E and 0.7 <= dados.confianca["id_transacao"] < 0.9
    assert "id_transacao" not in dados.duvidosos


def test_merge_keeps_rapids_letters_and_tesseracts_spaces() -> None:
    assert merge_text("FarmaciaSaoJoao", "Farmácia São Joao") == "Farmácia São Joao"
    assert merge_text("MercadoSaoJorge", "Mercado São Jarge") == "Mercado São Jorge"


def _id_line(text: str, family: str) -> object:
    """An id printed as receipts print it (17 px), cut and enlarged as ocr/id_line.py does."""
    from PIL import Image, ImageDraw, ImageFont

    from core.comprovantes.ocr import id_line
    from tests.comprovantes.receipts import FONTS

    font = ImageFont.truetype(str(FONTS[family][0]), 17)
    image = Image.new("RGB", (420, 30), "white")
    draw = ImageDraw.Draw(image)
    draw.text((10, 5), text, font=font, fill="black")
    left, top, right, bottom = draw.textbbox((10, 5), text, font=font)
    return id_line.crop_line(image, [[left, top], [right, top], [right, bottom], [left, bottom]])


@pytest.mark.parametrize("family", ["dejavu", "opensans", "roboto", "lato", "liberation"])
def test_the_glyphs_shapes_tell_look_alikes_apart(family: str) -> None:
    from core.comprovantes.ocr import id_line

    printed = E2E[:21] + "O0obdlisJxS"
    misread = E2E[:21] + "00Obdl1SJXs"   # every look-alike read as the other one
    allowed = id_line.shaped(misread, _id_line(printed, family))
    assert allowed is not None
    assert allowed[:3] == ["O", "0", "o"]            # wider than the id's own '0', or short
    assert allowed[6:8] == ["i", "s"] and allowed[9:] == ["x", "S"]   # the dot; the height
    # l rises above the digits in DejaVu and Open Sans; Roboto, Lato and Liberation draw it like an I
    assert allowed[5] == ("l" if family in ("dejavu", "opensans") else "lI")


def test_a_j_and_a_J_by_their_dot_and_height() -> None:
    from core.comprovantes.ocr import id_line

    printed = E2E[:21] + "hbdljJlj0Jd"
    misread = E2E[:21] + "hbdljjljOjd"
    # DejaVu: the j's dot apart, a J's top at the digits' height (its l and d rise above them)
    assert id_line.shaped(misread, _id_line(printed, "dejavu"))[4:10] == ["j", "J", "l", "j", "0", "J"]
    # Liberation at 17 px joins the dot to the stem and draws ascenders at the capitals' height:
    # nothing decided by shape, the engines' reading stays
    assert id_line.shaped(misread, _id_line(printed, "liberation"))[4:6] == ["", ""]


def test_the_id_tail_follows_the_shapes_and_doubts_what_they_cannot_tell() -> None:
    from core.comprovantes.ocr import id_line

    printed = E2E[:21] + "O0obdhisJxS"
    misread = E2E[:21] + "00obdhisJxS"
    # every reader read the O as a zero: the shape puts it right
    decided = id_line.decide_tail(misread, [misread, misread], _id_line(printed, "roboto"))
    assert decided.e2e == printed and decided.outcome == "shaped"
    # an I, which Roboto draws like an l: readers that split are a doubt, readers that agree
    # are kept, less sure
    printed = E2E[:21] + "O0obdIisJxS"
    line = _id_line(printed, "roboto")
    split = id_line.decide_tail(printed, [printed[:26] + "l" + printed[27:]], line)
    assert split.outcome == "doubtful"
    assert id_line.decide_tail(printed, [printed], line) == id_line.Tail(printed, "disagree")
    # no line to look at: readers split between 0 and O is a doubt, any other split is not
    assert id_line.decide_tail(printed, [misread], None).outcome == "doubtful"
    assert id_line.decide_tail(printed, [printed[:29] + "X" + printed[30:]], None).outcome == "disagree"


def test_cooperatives_are_institutions_of_the_table() -> None:
    for printed, ispb in (("CRESOL CONFEDERAÇÃO", "10398952"), ("Cooperativa de Crédito Rural Cresol", "10398952"),
                          ("UNICRED DO BRASIL", "00315557"), ("COOP CENTRAL AILOS", "05463212"),
                          ("Sicredi Pioneira RS", "01181521"), ("SICOOB CREDICITRUS", "02038232")):
        found = checks.instituicao_por_nome(printed)
        assert found is not None and found.ispb == ispb, printed
