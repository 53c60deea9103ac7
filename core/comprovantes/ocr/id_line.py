"""The E2E id's line looked at again, closer: its 11 free characters decided by their shapes.

The id's last 11 characters have no check digit, and OCR engines trained on words misread
look-alike glyphs there: 0/O/o, l/I/1/i, j/J and the letters whose capital is the small one
drawn bigger (s/S, u/U, w/W...). Both engines often agree on the wrong one. The id's first 21
characters are checked (ISPB and timestamp, checks.py), so they are known glyphs on the same
line, in the same font and size: they give the digits' height, top and baseline, and one glyph
of each digit they print. Each free character is then measured against them:
- a glyph with the box and ink of the id's own '0' (or '1') is that digit, otherwise the letter;
  a round one shorter than the digits is 'o', wider than the '0' is 'O';
- a dot over a stem (apart, or blurred into it with a lighter gap) is 'i' or 'j';
- a dotless stem rising above the digits is 'l'; one that stops at their height is 'I' in faces
  whose ascenders rise at all, and either in faces that draw them alike (doubtful when the
  engines split); a dotless one reaching below the line is 'J' in the first kind of face;
- a short glyph is the small letter (s, u, w, x...), a tall one the capital.

The line is the RapidOCR box holding the id, cut from the page, enlarged 3x (LANCZOS) and split
into glyphs by connected ink; when the glyphs do not line up with the id's 32 characters
(touching letters, serifs, a line wrapped, a blurred scan), nothing is decided by shape and the
engines' readings vote (decide_tail).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from core.comprovantes.checks import DIGITISH

SCALE = 3
ID_LENGTH = 32
FREE = 21  # the id's characters after E + ISPB + yyyyMMddHHmm
# What a glyph's shape decides, by the family of look-alikes an engine's reading falls in.
ROUND = frozenset("0Oo")
STEMS = frozenset("1Iil|jJ")
CASED = {c: c.upper() for c in "cosuvwxz"} | {c.upper(): c.upper() for c in "cosuvwxz"}
# Shape thresholds, as shares of the id's own digit height and '0' width (every Latin face:
# a small letter is 0.70-0.78 of a capital; 'O' is 1.2-1.4 times a '0''s width).
SMALL_HEIGHT = 0.87
WIDE_ROUND = 1.13
# An ascender (l, b, d...) rises this share of the digit height above the digits in faces where
# it rises at all (measured 2.5-8.5%; an I stops exactly at their height).
RISE = 0.015
# A glyph whose bottom is this share of the digit height below the digits' baseline descends
# (g, j, p, q, y).
DESCENDER = 0.12
# Share of ink a glyph must have in common with the id's own digit to be that digit (the same
# character in one font and size differs only by anti-aliasing; a '0' against an 'O' or a '1'
# against an 'l' already fails on the box's size).
MATCH = 0.7
# A letter OCR reads for a digit, and the digit it stands for (checks.py reads them back the same way).
# Only 0 and 1: engines tell 5/S, 2/Z and 8/B apart, and a blurred B matches an 8.
DIGIT_LOOKALIKES = {"0": "0", "O": "0", "o": "0", "1": "1", "I": "1", "l": "1", "i": "1", "|": "1"}
LETTER_LOOKALIKE = {"0": "O", "1": "l"}
# Where ink ends, between the darkest (0) and the paper (1): measured on 108 saved id lines,
# 0.55 lines up the most of them with their characters (86; 0.65: 72, 0.75: 61).
INK_LEVEL = 0.55
# the id with its 20 digits as OCR may print them (checks.py), its tail a little misread in length
ID_BOX_RE = re.compile(rf"E[{DIGITISH}]{{20}}[A-Za-z0-9]{{9,13}}")


@dataclass(frozen=True, eq=False)
class Glyph:
    left: int
    right: int    # exclusive
    top: int
    bottom: int   # exclusive
    dotted: bool  # a dot over a stem: i, j
    ink: Any = None  # the glyph's own pixels (bool array of its box)

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


def id_box(boxes: list[Any]) -> Any | None:
    """The RapidOCR box (corners, text, ...) whose text holds an E2E-shaped run, or None."""
    for entry in boxes:
        if ID_BOX_RE.search(re.sub(r"\s", "", entry[1])):
            return entry
    return None


def crop_line(image: Any, corners: list[list[float]], text: str = "") -> Any:
    """The box's line from the page, grey, dark text on light, enlarged SCALE times; with the
    box's text, only from where the id starts (a label before it is left out)."""
    from PIL import Image, ImageOps

    xs, ys = [p[0] for p in corners], [p[1] for p in corners]
    height = max(ys) - min(ys)
    left = min(xs)
    if text and (start := _id_start(text)):
        # glyphs are about as wide as each other: the id starts that share along the box
        left += (max(xs) - min(xs)) * start / len(text) - 1.2 * height
    grey = image.convert("L").crop((max(0, int(left - 0.4 * height)), max(0, int(min(ys) - 0.3 * height)),
                                    min(image.width, int(max(xs) + 0.4 * height) + 1),
                                    min(image.height, int(max(ys) + 0.3 * height) + 1)))
    small = grey.resize((16, 4))
    if sum(small.tobytes()) / 64 < 110:
        grey = ImageOps.invert(grey)
    return grey.resize((grey.width * SCALE, grey.height * SCALE), Image.LANCZOS)


def _id_start(text: str) -> int:
    """Where in the box's text the id starts (0 when it starts the box or is not found)."""
    compact = [(index, ch) for index, ch in enumerate(text) if not ch.isspace()]
    match = ID_BOX_RE.search("".join(ch for _, ch in compact))
    return compact[match.start()][0] if match else 0


def _levels(line: Any) -> Any:
    """The line's pixels from 0 (ink) to 1 (paper), or None when it has no contrast."""
    import numpy as np

    pixels = np.asarray(line, dtype=np.float32)
    low, high = np.percentile(pixels, 2), np.percentile(pixels, 98)
    if high - low < 40:
        return None
    return (pixels - low) / (high - low)


def _waisted(levels: Any) -> bool:
    """A dot blurred into its stem (small JPEGs): going down the glyph, the darkest of each
    row goes dark (the dot), light again (the gap), then dark (the stem), in its top half."""
    rows = [float(v) for v in levels.min(axis=1)]
    half = len(rows) // 2
    index = 0
    while index < half and rows[index] >= 0.35:
        index += 1
    while index + 1 < half and rows[index + 1] <= rows[index]:
        index += 1  # the dot's darkest row
    dot = rows[index] if index < half else 1.0
    gap = index
    while gap + 1 < half and rows[gap + 1] >= rows[gap]:
        gap += 1  # the lightest row under the dot
    if rows[gap] < max(0.35, dot + 0.15):
        return False
    return min(rows[gap:], default=1.0) < 0.2


def _components(ink: Any) -> list[tuple[int, int, int, int, int]]:
    """Connected ink (8-neighbour) as (left, right, top, bottom, pixels), from runs of each row."""
    import numpy as np

    parent: list[int] = []

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    runs: list[tuple[int, int, int]] = []  # (row, start, end)
    previous: list[int] = []
    for y in range(ink.shape[0]):
        edges = np.flatnonzero(np.diff(np.concatenate(([0], ink[y].astype(np.int8), [0]))))
        current = []
        for start, end in zip(edges[::2], edges[1::2]):
            index = len(runs)
            runs.append((y, int(start), int(end)))
            parent.append(index)
            for other in previous:
                _, o_start, o_end = runs[other]
                if o_start <= end and start <= o_end:  # touching, diagonals included
                    a, b = root(index), root(other)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
            current.append(index)
        previous = current
    boxes: dict[int, list[int]] = {}
    for index, (y, start, end) in enumerate(runs):
        box = boxes.setdefault(root(index), [start, end, y, y + 1, 0])
        box[0], box[1] = min(box[0], start), max(box[1], end)
        box[2], box[3] = min(box[2], y), max(box[3], y + 1)
        box[4] += end - start
    return sorted((tuple(b) for b in boxes.values()), key=lambda b: b[0])  # type: ignore[misc]


def glyphs(line: Any) -> list[Glyph]:
    """The line's glyphs, left to right: connected ink, a dot joined to the stem under it."""
    levels = _levels(line)
    if levels is None:
        return []
    # nearer the paper than the ink: anti-aliased joins (the shoulder of an r) stay joined
    ink = levels < INK_LEVEL
    parts = _components(ink)
    if not parts:
        return []
    tallest = max(b[3] - b[2] for b in parts)
    # specks (JPEG noise) are not glyphs
    parts = [b for b in parts if b[4] >= 0.004 * tallest * tallest and (b[3] - b[2]) >= 0.08 * tallest]
    out: list[Glyph] = []
    for left, right, top, bottom, _ in parts:
        small = bottom - top < 0.3 * tallest
        for index, glyph in enumerate(out):
            centre = (left + right) / 2
            # a dot over a stem (i, j): above it, over its columns
            if small and glyph.left <= centre <= glyph.right and bottom <= glyph.top + 0.05 * tallest:
                out[index] = Glyph(glyph.left, glyph.right, top, glyph.bottom, True)
                break
            if not small and glyph.height < 0.3 * tallest and not glyph.dotted \
                    and left <= (glyph.left + glyph.right) / 2 <= right and glyph.bottom <= top + 0.05 * tallest:
                out[index] = Glyph(left, right, glyph.top, bottom, True)  # the stem came after its dot
                break
        else:
            out.append(Glyph(left, right, top, bottom, False))
    return sorted((Glyph(g.left, g.right, g.top, g.bottom,
                         g.dotted or _waisted(levels[g.top:g.bottom, g.left:g.right]),
                         ink[g.top:g.bottom, g.left:g.right]) for g in out), key=lambda g: (g.left + g.right) / 2)


def _id_glyphs(found: list[Glyph]) -> list[Glyph] | None:
    """The id's 32 glyphs: the last 32 of the line when they look like E + 20 digits + 11 more."""
    import statistics

    if len(found) < ID_LENGTH:
        return None
    ids = found[-ID_LENGTH:]
    digits = ids[1:FREE]
    height = statistics.median(g.height for g in digits)
    if any(g.height < 0.3 * height for g in ids):
        return None  # a dot left on its own: its letter touches the next one
    bottom = statistics.median(g.bottom for g in digits)
    if not all(abs(g.height - height) <= 0.12 * height and abs(g.bottom - bottom) <= 0.12 * height
               for g in [ids[0], *digits]):
        return None  # the run is not the id (letters touching, a label glued, a line wrapped)
    if len(found) > ID_LENGTH:
        gaps = [b.left - a.right for a, b in zip(ids, ids[1:])]
        if found[-ID_LENGTH - 1].right > ids[0].left - statistics.median(gaps) * 1.5:
            return None  # the glyph before the E is not separated by a space
    return ids


def shaped(e2e: str, line: Any) -> list[str] | None:
    """For each of the id's 11 free characters, the characters its shape allows ("" when the
    shape cannot tell); None when the line's glyphs do not line up with the id."""
    import statistics

    ids = _id_glyphs(glyphs(line))
    if ids is None or len(e2e) != ID_LENGTH:
        return None
    digits = ids[1:FREE]
    cap = statistics.median(g.height for g in digits)
    baseline = statistics.median(g.bottom for g in digits)
    templates: dict[str, Glyph] = {}
    for glyph, ch in zip(digits, e2e[1:FREE]):
        templates.setdefault(ch, glyph)
    if "0" not in templates:
        return None
    metrics = _Metrics(cap, baseline, statistics.median(g.top for g in digits), templates)
    metrics = replace(metrics, ascenders_rise=any(
        ch in "bdfhkl1Ii|" and metrics.rises(g) for ch, g in zip(e2e[FREE:], ids[FREE:])))
    if not all(_fits(reading, glyph, metrics) for reading, glyph in zip(e2e[FREE:], ids[FREE:])):
        return None  # a letter's glyph is not its size: the glyphs are not where the characters are
    return [_allowed(reading, glyph, metrics) for reading, glyph in zip(e2e[FREE:], ids[FREE:])]


def _fits(reading: str, glyph: Glyph, m: _Metrics) -> bool:
    """Does a character with no look-alike have its glyph's size (x-height, tall, descending)?"""
    small, descends = m.short(glyph), m.descends(glyph)
    if reading in "aemnr":
        return small and not descends
    if reading in "gpqy":
        return descends
    if reading in "ADEFHKLMNPRTY34679bdfhkt":
        return not small
    return True


@dataclass(frozen=True)
class _Metrics:
    cap: float        # the digits' height
    baseline: float   # where the digits stand
    top: float        # where the digits' tops are
    digits: dict[str, Glyph]  # one known glyph per digit the id's first 21 characters print
    ascenders_rise: bool = False  # an ascender of the id (b, d, h, l...) rises above the digits

    def short(self, glyph: Glyph) -> bool:
        """Shorter than the digits: a small letter's height."""
        return glyph.height < SMALL_HEIGHT * self.cap

    def descends(self, glyph: Glyph) -> bool:
        return glyph.bottom > self.baseline + DESCENDER * self.cap

    def rises(self, glyph: Glyph) -> bool:
        """Above the digits' tops: an ascender, in faces where they rise."""
        return glyph.top < self.top - RISE * self.cap


def matches(glyph: Glyph, template: Glyph) -> bool:
    """Is the glyph the template's character? Same font and size: same box, same ink."""
    import numpy as np

    if abs(glyph.height - template.height) > 0.1 * template.height or \
            abs(glyph.width - template.width) > max(2, 0.12 * template.width):
        return False
    height, width = max(glyph.height, template.height), max(glyph.width, template.width)
    best = 0.0
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            a = np.zeros((height + 2, width + 2), bool)
            b = np.zeros((height + 2, width + 2), bool)
            a[1:1 + glyph.height, 1:1 + glyph.width] = glyph.ink
            b[1 + dy:1 + dy + template.height, 1 + dx:1 + dx + template.width] = template.ink
            union = (a | b).sum()
            best = max(best, (a & b).sum() / union if union else 0.0)
    return best >= MATCH


def _allowed(reading: str, glyph: Glyph, m: _Metrics) -> str:
    descends = m.descends(glyph)
    small = m.short(glyph) and not descends
    digit = DIGIT_LOOKALIKES.get(reading)
    if digit is not None and digit in m.digits:
        if matches(glyph, m.digits[digit]):
            return digit
        reading = LETTER_LOOKALIKE.get(reading, reading)  # not the digit: the letter it looked like
    if reading in ROUND:
        if small:
            return "o"
        if digit == "0":  # the '0' is known and this is not it
            return "O"
        return "O" if glyph.width > WIDE_ROUND * m.digits["0"].width else ""
    if reading in STEMS:
        rises = m.rises(glyph)
        if glyph.dotted:
            return "j" if descends else "i"
        if reading in "jJ":
            # dotless and below the line: a J, whose top is the capitals' height, or a j whose
            # dot a small face joined to its stem, as high as the face's ascenders
            if not descends:
                return ""
            if rises:
                return "j"
            return "J" if m.ascenders_rise else ""
        if reading == "i":
            return ""  # a dot a scan blurred away: engines rarely read an i that is not there
        # a stem without a dot that is no '1': l rises above the capitals where I stops at
        # their height; an equal stem is I when the face's other ascenders (b, d, h, l) rise
        if rises:
            return "l"
        if "1" not in m.digits and reading == "1":
            return ""
        return "I" if m.ascenders_rise else "lI"
    if reading in CASED:
        return reading.lower() if small else reading.upper()
    return ""


# Characters engines take for one another and were measured to get wrong as often as right
# (l/I: one time in two; 0/O/o: one in four); a split between two of them is a real doubt.
# Other splits (j/J, s/S...) go to the reading most engines make, RapidOCR's on a tie (right
# 35 times in 36 on j/J).
LOOKALIKE_FAMILIES = ("0Oo", "1Iil|")
# Four readers in five reading one of them was right; fewer are a doubt.
CLEAR_MAJORITY = 0.8


@dataclass(frozen=True)
class Look:
    """The id's line, enlarged, and what each engine read on it."""
    image: Any
    texts: list[str]


@dataclass(frozen=True)
class Tail:
    e2e: str
    outcome: str   # "agree" | "shaped" (shapes settled what readers split on) | "disagree" | "doubtful"


def _family(a: str, b: str) -> bool:
    return any(a in family and b in family for family in LOOKALIKE_FAMILIES)


def decide_tail(e2e: str, readings: list[str], line: Any) -> Tail:
    """Decide the id's 11 free characters from every reading of the same id (first the one
    chosen) and the glyphs' shapes; doubtful where shapes cannot tell and readers split
    between look-alikes, or no reader reads what the shape allows."""
    reads = [e2e] + [r for r in readings if len(r) == ID_LENGTH and r[:FREE] == e2e[:FREE]]
    allowed = (shaped(e2e, line) if line is not None else None) or [""] * (ID_LENGTH - FREE)
    out, outcome = [], "agree"

    def worse(new: str) -> str:
        order = ("agree", "shaped", "disagree", "doubtful")
        return max(outcome, new, key=order.index)

    for index, allow in enumerate(allowed):
        votes = [r[FREE + index] for r in reads]
        split = len(set(votes)) > 1
        if len(allow) == 1:
            out.append(allow)
            if split or allow != votes[0]:
                outcome = worse("shaped")
            continue
        if allow:
            # several glyphs the shape allows (l or I): readers that agree were right 7 times
            # in 10 (kept, less sure); readers that split were right one time in two (doubtful)
            inside = [v for v in votes if v in allow]
            out.append(max(dict.fromkeys(inside), key=inside.count) if inside else allow[0])
            outcome = worse("disagree" if inside and len(set(votes)) == 1 else "doubtful")
            continue
        top = max(dict.fromkeys(votes), key=votes.count)  # most read; the chosen reading on a tie
        out.append(top)
        if split:
            lookalikes = any(_family(top, v) for v in votes if v != top)
            outcome = worse("doubtful" if lookalikes and votes.count(top) < CLEAR_MAJORITY * len(votes)
                            else "disagree")
    return Tail(e2e[:FREE] + "".join(out), outcome)
