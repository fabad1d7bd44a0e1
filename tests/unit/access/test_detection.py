"""QR detection: each provider's format is recognised, the Friction security code is split off and never shown,
and anything else is unknown (so it is never sent to a provider)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.access.adapters import UNKNOWN_KIND, detect

CODE = "3f2b8c1e-6a4d-4f5e-9b7a-1c2d3e4f5a6b"


@pytest.mark.parametrize("text, provider, external_id", [
    ("FP-7Q2K9D4M", "fitpass", "FP-7Q2K9D4M"),
    ("  FP-3H8W1C6X\r\n", "fitpass", "FP-3H8W1C6X"),  # a keyboard-wedge scanner's Enter and stray spaces
    ("FP-a1b2_c3d4-e5f6", "fitpass", "FP-a1b2_c3d4-e5f6"),
    ("1234567890123", "wellhub", "1234567890123"),
    ("1234567890123\n", "wellhub", "1234567890123"),
])
def test_fitpass_and_wellhub_codes_are_routed(text, provider, external_id):
    detected = detect(text)
    assert (detected.provider, detected.external_id, detected.secret_part) == (provider, external_id, None)


VCARDS = {
    "crlf": f"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Zürcher;Anna\r\nORG:{CODE}\r\nNOTE:100234\r\nEND:VCARD\r\n",
    "lf": f"BEGIN:VCARD\nVERSION:3.0\nFN:Anna Zürcher\nORG:{CODE}\nNOTE:100234\nEND:VCARD",
    "folded": f"BEGIN:VCARD\r\nVERSION:3.0\r\nORG:{CODE[:10]}\r\n {CODE[10:]}\r\nNOTE:1002\r\n\t34\r\nEND:VCARD",
    "bom_lowercase": f"\ufeffbegin:vcard\nversion:3.0\norg:{CODE.upper()}\nnote:100234\nend:vcard",
    "one_line": f"BEGIN:VCARDVERSION:3.0N:Zürcher;AnnaORG:{CODE}NOTE:100234END:VCARD",
    "one_line_spaces": f"BEGIN:VCARD VERSION:3.0 FN:Anna ORG:{CODE} NOTE:100234 END:VCARD",
    "params_groups": f"BEGIN:VCARD\nVERSION:3.0\nitem1.ORG;CHARSET=UTF-8:{CODE};Fitness\n"
                     "NOTE;ENCODING=QUOTED-PRINTABLE:=31=30=30=32=33=34\nEND:VCARD",
}


@pytest.mark.parametrize("name", sorted(VCARDS))
def test_friction_vcards_in_odd_shapes_yield_user_id_and_security_code(name):
    detected = detect(VCARDS[name])
    assert detected.provider == "friction"
    assert detected.kind == "friction_vcard"
    assert detected.external_id == "100234"
    assert detected.secret_part == CODE
    assert CODE not in repr(detected)  # the secret part never reaches a log line through repr


@pytest.mark.parametrize("text", [
    "", "   ", "FP-", "FP-12", "fp-7Q2K9D4M", "FP-7Q2K 9D4M", "123456789012", "12345678901234", "١٢٣٤٥٦٧٨٩٠١٢٣",
    "https://example.test/member/42", "BEGIN:VCARD\nNOTE:100234\nEND:VCARD",  # no security code
    "BEGIN:VCARD\nORG:not-a-uuid\nNOTE:100234\nEND:VCARD", f"BEGIN:VCARD\nORG:{CODE}\nEND:VCARD",
    f"BEGIN:VCARD\nORG:{CODE}\nNOTE:{'9' * 129}\nEND:VCARD", "FP-7Q2K9D4M\x00", "A" * 5000,
])
def test_anything_else_is_unknown(text):
    detected = detect(text)
    assert (detected.provider, detected.kind, detected.external_id) == (None, UNKNOWN_KIND, None)


def test_non_text_is_unknown():
    assert detect(None).provider is None
    assert detect(b"FP-7Q2K9D4M").provider is None


@given(st.text(max_size=300))
def test_detection_never_fails_and_only_routes_well_formed_codes(text):
    detected = detect(text)
    if detected.provider == "fitpass":
        assert detected.external_id.startswith("FP-")
    elif detected.provider == "wellhub":
        assert detected.external_id.isdigit() and len(detected.external_id) == 13
    elif detected.provider == "friction":
        assert text.lstrip("\ufeff").strip()[:11].upper() == "BEGIN:VCARD"
    else:
        assert detected.kind == UNKNOWN_KIND
