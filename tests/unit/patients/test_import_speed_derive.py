"""The import's fast derived columns equal the one-patient originals: ``derive.search_text`` is
``build_search_text`` and ``derive.sort_name`` is ``name_sort_key`` for every kind of value a file holds."""

from datetime import date

import pytest

from app.patients.collation import name_sort_key
from app.patients.importing import derive
from app.patients.models import build_search_text
from bench.patient_import import generate_rows

TRICKY_NAMES = ["Müller", "Mueller", "Muller", "Jörg", "Zoë", "Renée", "Ömer", "Weiß", "Groß-Öztürk", "Karl-Heinz",
                "O'Brien", "St. Ägidius", "Łukasz", "Søren", "Œdipe", "Đorđe", "José\u0301", "e\u0301clair", "İlker",
                "ǅemal", "ﬁlip", "Ａnna", "  Anna  Lena ", "MARIA", "Straße", "Manuel", "Bauer", "", " "]


@pytest.mark.parametrize("first", TRICKY_NAMES)
def test_search_text_and_sort_name_equal_the_originals_for_unusual_names(first):
    for last in TRICKY_NAMES:
        for email, phone, birth, booking in ((None, None, None, None),
                                             ("jörg.müller@web.de", "+4915112345678", date(1980, 2, 29), "P-1"),
                                             ("Anna.Maier@GMX.de", "0151 1112223", date(1931, 12, 1), "Bü-7"),
                                             (None, "Büro anrufen", None, None), (None, "+4", None, "P-2")):
            assert derive.search_text(first, last, email, phone, birth, booking) == build_search_text(
                first, last, email, phone, birth, booking)
        assert derive.sort_name(last, first) == name_sort_key(last, first)


def test_search_text_and_sort_name_equal_the_originals_for_the_bench_file():
    for _booking, first, last, email, phone, birth, _note in generate_rows(2000)[1:]:
        born = date(int(birth[-4:]), int(birth[3:5]), int(birth[:2])) if birth[2] == "." and len(birth) == 10 \
            else None
        assert derive.search_text(first, last, email or None, phone or None, born, _booking or None) == \
            build_search_text(first, last, email or None, phone or None, born, _booking or None)
        assert derive.sort_name(last, first) == name_sort_key(last, first)
