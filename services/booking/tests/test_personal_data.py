import base64
import os
from datetime import date

import pytest

from app.errors import InvalidIdNumberError, InvalidPhoneError
from app.personal_data import (PersonalDataVault, gb11643_check_char, mask_id_number, mask_name, mask_phone,
                               normalize_id_number, normalize_phone)

TODAY = date(2026, 12, 5)


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_check_digit_of_published_example():
    # The worked example of GB 11643-1999: 11010519491231002X.
    assert gb11643_check_char("11010519491231002") == "X"
    assert normalize_id_number("11010519491231002x", today=TODAY) == "11010519491231002X"


@pytest.mark.parametrize("raw,reason", [
    ("110105194912310021", "check_digit"),
    ("110105194902300020", "birth_date"),     # 30 February
    ("110105230001010010", "birth_date"),     # born in 2300
    ("11010519491231002", "format"),
    ("A1010519491231002X", "format"),
])
def test_bad_id_numbers_name_the_reason(raw, reason):
    with pytest.raises(InvalidIdNumberError) as exc:
        normalize_id_number(raw, today=TODAY)
    assert exc.value.details["reason"] == reason
    assert exc.value.details["field"] == "patient.id_number"


def test_mainland_mobiles():
    assert normalize_phone("+86 138-0013-8000") == "13800138000"
    for bad in ("12800138000", "1380013800", "23800138000", "138001380001"):
        with pytest.raises(InvalidPhoneError):
            normalize_phone(bad)


def test_masks():
    assert mask_id_number("11010519491231002X") == "1101**********002X"
    assert mask_phone("13800138000") == "138****8000"
    assert mask_name("张三丰") == "张**"


def test_vault_round_trip_rotation_and_tamper():
    k1 = _key()
    old = PersonalDataVault({"k1": k1}, "k1", "index-key")
    sealed = old.seal("李四", "11010519491231002X", "13800138000")
    assert b"11010519491231002X" not in sealed.id_number
    rotated = PersonalDataVault({"k1": k1, "k2": _key()}, "k2", "index-key")
    assert rotated.decrypt("id_number", sealed.id_number, sealed.key_id) == "11010519491231002X"
    assert rotated.seal("李四", "x", "y").key_id == "k2"
    # The field name is bound in: an id-number ciphertext cannot be passed off as a phone.
    with pytest.raises(Exception):
        rotated.decrypt("phone", sealed.id_number, sealed.key_id)
    # Same value, same blind index; different keys, different index.
    assert old.blind_index("phone", "13800138000") == rotated.blind_index("phone", "13800138000")
    assert old.blind_index("phone", "13800138000") != PersonalDataVault(
        {"k1": _key()}, "k1", "other").blind_index("phone", "13800138000")

