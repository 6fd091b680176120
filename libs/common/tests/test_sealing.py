import base64
import os

import pytest

from zhenxi_common.sealing import SealError, Sealer, parse_keys
from zhenxi_common.settings import PLACEHOLDER_SECRET


def _b64(n: int = 32) -> str:
    return base64.b64encode(os.urandom(n)).decode()


def test_seal_opens_with_the_same_associated_data_only():
    sealer = Sealer(parse_keys(f"k1:{_b64()}", "k1"), "k1")
    blob = sealer.seal(b"secret", b"row-1")
    assert b"secret" not in blob
    assert sealer.open(blob, b"row-1") == b"secret"
    with pytest.raises(SealError):
        sealer.open(blob, b"row-2")


def test_rotation_reads_old_key_ids_and_writes_the_active_one():
    old, new = _b64(), _b64()
    before = Sealer(parse_keys(f"k1:{old}", "k1"), "k1").seal(b"v", b"a")
    after = Sealer(parse_keys(f"k1:{old},k2:{new}", "k2"), "k2")
    assert after.open(before, b"a") == b"v"
    assert after.seal(b"v", b"a")[5:7] == b"k2"
    with pytest.raises(SealError, match="no key"):
        Sealer(parse_keys(f"k2:{new}", "k2"), "k2").open(before, b"a")


def test_parse_keys_refuses_bad_specs_and_derives_the_placeholder():
    with pytest.raises(SealError):
        parse_keys(f"k1:{_b64(10)}", "k1")
    with pytest.raises(SealError):
        parse_keys(f"k1:{_b64()}", "k2")
    assert list(parse_keys(PLACEHOLDER_SECRET, "dev")) == ["dev"]
    with pytest.raises(SealError):
        Sealer(parse_keys(f"k1:{_b64()}", "k1"), "k1").open(b"garbage", b"")
