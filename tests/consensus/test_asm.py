"""Script text in Core's and Esplora's styles."""

import pytest

from node.consensus.script.asm import core_asm, esplora_asm

H20 = "751e76e8199196d454941c45d1b3a323f1433bd6"


@pytest.mark.parametrize("script,esplora", [
    (f"0014{H20}", f"OP_0 OP_PUSHBYTES_20 {H20}"),
    (f"76a914{H20}88ac", f"OP_DUP OP_HASH160 OP_PUSHBYTES_20 {H20} OP_EQUALVERIFY OP_CHECKSIG"),
    (f"a914{H20}87", f"OP_HASH160 OP_PUSHBYTES_20 {H20} OP_EQUAL"),
    ("5120" + "00" * 32, "OP_PUSHNUM_1 OP_PUSHBYTES_32 " + "00" * 32),
    ("6a0568656c6c6f", "OP_RETURN OP_PUSHBYTES_5 68656c6c6f"),
    ("4f b1 b2 ff".replace(" ", ""), "OP_PUSHNUM_NEG1 OP_CLTV OP_CSV OP_RETURN_255"),
    ("4c", "<push past end>"),
])
def test_esplora_asm(script, esplora):
    assert esplora_asm(bytes.fromhex(script)) == esplora


@pytest.mark.parametrize("script,core", [
    (f"0014{H20}", f"0 {H20}"),
    (f"76a914{H20}88ac", f"OP_DUP OP_HASH160 {H20} OP_EQUALVERIFY OP_CHECKSIG"),
    ("51025b01", "1 347"),
    ("4c", "[error]"),
])
def test_core_asm(script, core):
    assert core_asm(bytes.fromhex(script)) == core
