"""Fixtures of the ruptura tests: an empty carteira with its row builders."""
from __future__ import annotations

import pytest

from tests.ruptura.support import Carteira


@pytest.fixture
def carteira(db: str) -> Carteira:
    """An empty carteira on this test's database, with row builders."""
    return Carteira()
