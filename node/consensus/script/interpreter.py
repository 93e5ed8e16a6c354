"""The script interpreter: Core's EvalScript, VerifyScript and VerifyWitnessProgram.

Scripts are bytes and stack items are bytes; failures raise :class:`ScriptError` carrying Core's
error name. Signature checks go through a :class:`SignatureChecker`, so the same interpreter
verifies transactions (:class:`TxSignatureChecker`) and runs signature-free unit tests.
Taproot (witness v1) is not validated: such spends succeed as BIP141 prescribes for a node that
does not know the version (Core without the TAPROOT flag behaves the same).
"""

from __future__ import annotations

import hashlib

from .. import crypto
from ..hashes import hash160, ripemd160, sha256, sha256d
from ..primitives import SEQUENCE_FINAL, Tx
from .errors import ScriptErr, ScriptError
from .flags import Flag
from .num import cast_to_bool, decode_num, encode_num
from .opcodes import (
    DISABLED_OPCODES,
    OP_0,
    OP_0NOTEQUAL,
    OP_1,
    OP_1ADD,
    OP_1NEGATE,
    OP_1SUB,
    OP_2DROP,
    OP_2DUP,
    OP_2OVER,
    OP_2ROT,
    OP_2SWAP,
    OP_3DUP,
    OP_16,
    OP_ABS,
    OP_ADD,
    OP_BOOLAND,
    OP_BOOLOR,
    OP_CHECKLOCKTIMEVERIFY,
    OP_CHECKMULTISIG,
    OP_CHECKMULTISIGVERIFY,
    OP_CHECKSEQUENCEVERIFY,
    OP_CHECKSIG,
    OP_CHECKSIGVERIFY,
    OP_CODESEPARATOR,
    OP_DEPTH,
    OP_DROP,
    OP_DUP,
    OP_ELSE,
    OP_ENDIF,
    OP_EQUAL,
    OP_EQUALVERIFY,
    OP_FROMALTSTACK,
    OP_GREATERTHAN,
    OP_GREATERTHANOREQUAL,
    OP_HASH160,
    OP_HASH256,
    OP_IF,
    OP_IFDUP,
    OP_LESSTHAN,
    OP_LESSTHANOREQUAL,
    OP_MAX,
    OP_MIN,
    OP_NEGATE,
    OP_NIP,
    OP_NOP,
    OP_NOP1,
    OP_NOP4,
    OP_NOP10,
    OP_NOT,
    OP_NOTIF,
    OP_NUMEQUAL,
    OP_NUMEQUALVERIFY,
    OP_NUMNOTEQUAL,
    OP_OVER,
    OP_PICK,
    OP_PUSHDATA4,
    OP_RETURN,
    OP_RIPEMD160,
    OP_ROLL,
    OP_ROT,
    OP_SHA1,
    OP_SHA256,
    OP_SIZE,
    OP_SUB,
    OP_SWAP,
    OP_TOALTSTACK,
    OP_TUCK,
    OP_VERIFY,
    OP_WITHIN,
)
from .script import (
    LOCKTIME_THRESHOLD,
    MAX_OPS_PER_SCRIPT,
    MAX_PUBKEYS_PER_MULTISIG,
    MAX_SCRIPT_ELEMENT_SIZE,
    MAX_SCRIPT_SIZE,
    MAX_STACK_SIZE,
    check_minimal_push,
    find_and_delete,
    get_op,
    is_p2sh,
    is_push_only,
    push_data,
    witness_program,
)
from .sighash import (
    SIGHASH_ALL,
    SIGHASH_ANYONECANPAY,
    SIGHASH_SINGLE,
    SIGVERSION_BASE,
    SIGVERSION_WITNESS_V0,
    PrecomputedTxData,
    legacy_sighash,
    p2wpkh_script_code,
    p2wpkh_sighash_all,
    segwit_v0_sighash,
)

# IntFlag arithmetic runs Python-level enum code on every '&': the interpreter tests plain ints.
_CHECKLOCKTIMEVERIFY = int(Flag.CHECKLOCKTIMEVERIFY)
_CHECKSEQUENCEVERIFY = int(Flag.CHECKSEQUENCEVERIFY)
_CLEANSTACK = int(Flag.CLEANSTACK)
_CONST_SCRIPTCODE = int(Flag.CONST_SCRIPTCODE)
_DERSIG = int(Flag.DERSIG)
_DISCOURAGE_UPGRADABLE_NOPS = int(Flag.DISCOURAGE_UPGRADABLE_NOPS)
_DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM = int(Flag.DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM)
_LOW_S = int(Flag.LOW_S)
_MINIMALDATA = int(Flag.MINIMALDATA)
_MINIMALIF = int(Flag.MINIMALIF)
_NULLDUMMY = int(Flag.NULLDUMMY)
_NULLFAIL = int(Flag.NULLFAIL)
_P2SH = int(Flag.P2SH)
_SIGPUSHONLY = int(Flag.SIGPUSHONLY)
_STRICTENC = int(Flag.STRICTENC)
_WITNESS = int(Flag.WITNESS)
_WITNESS_PUBKEYTYPE = int(Flag.WITNESS_PUBKEYTYPE)
_DER_CHECKS = _DERSIG | _LOW_S | _STRICTENC  # the flags that want a strict DER signature

# BIP68/BIP112 relative lock-time fields of nSequence.
SEQUENCE_LOCKTIME_DISABLE_FLAG = 1 << 31
SEQUENCE_LOCKTIME_TYPE_FLAG = 1 << 22
SEQUENCE_LOCKTIME_MASK = 0x0000FFFF

# Half the secp256k1 group order: BIP146's LOW_S bound.
_HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0

_TRUE = b"\x01"
_FALSE = b""


# -- signature and public key encoding (BIP66, BIP146, STRICTENC) ------------------------------

def is_valid_signature_encoding(sig: bytes) -> bool:
    """BIP66 strict DER (plus the trailing hash-type byte), Core's IsValidSignatureEncoding."""
    n = len(sig)
    if n < 9 or n > 73:
        return False
    if sig[0] != 0x30 or sig[1] != n - 3:
        return False
    len_r = sig[3]
    if 5 + len_r >= n:
        return False
    len_s = sig[5 + len_r]
    if len_r + len_s + 7 != n:
        return False
    if sig[2] != 0x02 or len_r == 0 or sig[4] & 0x80:
        return False
    if len_r > 1 and sig[4] == 0 and not sig[5] & 0x80:
        return False
    if sig[len_r + 4] != 0x02 or len_s == 0 or sig[len_r + 6] & 0x80:
        return False
    if len_s > 1 and sig[len_r + 6] == 0 and not sig[len_r + 7] & 0x80:
        return False
    return True


def is_low_der_signature(sig: bytes) -> bool:
    """BIP146 LOW_S: S at most half the curve order. ``sig`` must be strictly DER-encoded."""
    len_r = sig[3]
    len_s = sig[5 + len_r]
    s = int.from_bytes(sig[6 + len_r:6 + len_r + len_s], "big")
    return s <= _HALF_ORDER


def is_defined_hashtype_signature(sig: bytes) -> bool:
    if not sig:
        return False
    base = sig[-1] & ~SIGHASH_ANYONECANPAY
    return SIGHASH_ALL <= base <= SIGHASH_SINGLE


def check_signature_encoding(sig: bytes, flags: int) -> None:
    # An empty signature is always allowed: it is the compact way to provide a failing one.
    if not sig:
        return
    if flags & _DER_CHECKS and not is_valid_signature_encoding(sig):
        raise ScriptError(ScriptErr.SIG_DER)
    if flags & _LOW_S and not is_low_der_signature(sig):
        raise ScriptError(ScriptErr.SIG_HIGH_S)
    if flags & _STRICTENC and not is_defined_hashtype_signature(sig):
        raise ScriptError(ScriptErr.SIG_HASHTYPE)


def is_compressed_or_uncompressed_pubkey(pubkey: bytes) -> bool:
    n = len(pubkey)
    if n < 33:
        return False
    if pubkey[0] == 0x04:
        return n == 65
    if pubkey[0] in (0x02, 0x03):
        return n == 33
    return False


def check_pubkey_encoding(pubkey: bytes, flags: int, sigversion: int) -> None:
    if flags & _STRICTENC and not is_compressed_or_uncompressed_pubkey(pubkey):
        raise ScriptError(ScriptErr.PUBKEYTYPE)
    # BIP143: only compressed keys in segwit v0 scripts (policy).
    if (flags & _WITNESS_PUBKEYTYPE and sigversion == SIGVERSION_WITNESS_V0
            and not (len(pubkey) == 33 and pubkey[0] in (0x02, 0x03))):
        raise ScriptError(ScriptErr.WITNESS_PUBKEYTYPE)


# -- signature checkers ------------------------------------------------------------------------

class SignatureChecker:
    """Checks nothing: every signature fails and lock-times are unsatisfied (Core's
    BaseSignatureChecker). Useful for scripts evaluated outside a transaction."""

    def check_ecdsa_signature(self, sig: bytes, pubkey: bytes, script_code: bytes,
                              sigversion: int) -> bool:
        return False

    def check_ecdsa_signature_or_defer(self, sig: bytes, pubkey: bytes, script_code: bytes,
                                       sigversion: int) -> bool:
        """OP_CHECKSIG's check. A checker may instead record it to verify later and answer
        True, provided its owner runs the script again with real checks whenever a recorded
        one fails (see :class:`DeferringSignatureChecker`). CHECKMULTISIG never defers: its
        key matching depends on each answer."""
        return self.check_ecdsa_signature(sig, pubkey, script_code, sigversion)

    def check_lock_time(self, lock_time: int) -> bool:
        return False

    def check_sequence(self, sequence: int) -> bool:
        return False


class TxSignatureChecker(SignatureChecker):
    """Checks signatures and lock-times of input ``n_in`` of ``tx`` spending ``amount``."""

    __slots__ = ("tx", "n_in", "amount", "cache")

    def __init__(self, tx: Tx, n_in: int, amount: int,
                 cache: PrecomputedTxData | None = None) -> None:
        self.tx = tx
        self.n_in = n_in
        self.amount = amount
        self.cache = cache if cache is not None else PrecomputedTxData(tx)

    def sighash(self, script_code: bytes, hash_type: int, sigversion: int) -> bytes:
        if sigversion == SIGVERSION_WITNESS_V0:
            return segwit_v0_sighash(script_code, self.tx, self.n_in, hash_type, self.amount,
                                     self.cache)
        return legacy_sighash(script_code, self.tx, self.n_in, hash_type, self.cache)

    def ecdsa_verification(self, sig: bytes, pubkey: bytes, script_code: bytes,
                           sigversion: int) -> tuple[bytes, bytes, bytes] | None:
        """What checking ``sig`` takes: ``crypto.verify``'s (pubkey, DER, digest), or None
        when it fails before any crypto."""
        # Core's CPubKey::IsValid: the length must match the header byte.
        if not pubkey or len(pubkey) != _PUBKEY_LEN.get(pubkey[0], 0) or not sig:
            return None
        return pubkey, sig[:-1], self.sighash(script_code, sig[-1], sigversion)

    def check_ecdsa_signature(self, sig: bytes, pubkey: bytes, script_code: bytes,
                              sigversion: int) -> bool:
        args = self.ecdsa_verification(sig, pubkey, script_code, sigversion)
        return args is not None and crypto.verify(*args)

    def check_lock_time(self, lock_time: int) -> bool:
        """BIP65: the tx's nLockTime is of the same kind (height/time) and at least as late,
        and the input is not final (else nLockTime would be ignored)."""
        tx_lock = self.tx.locktime
        if (tx_lock < LOCKTIME_THRESHOLD) != (lock_time < LOCKTIME_THRESHOLD):
            return False
        if lock_time > tx_lock:
            return False
        return self.tx.vin[self.n_in].sequence != SEQUENCE_FINAL

    def check_sequence(self, sequence: int) -> bool:
        """BIP112: compare against the input's BIP68 relative lock-time."""
        tx_seq = self.tx.vin[self.n_in].sequence
        # BIP68 applies only to version 2+ transactions (version compared as unsigned).
        if self.tx.version & 0xFFFFFFFF < 2:
            return False
        if tx_seq & SEQUENCE_LOCKTIME_DISABLE_FLAG:
            return False
        mask = SEQUENCE_LOCKTIME_TYPE_FLAG | SEQUENCE_LOCKTIME_MASK
        tx_masked = tx_seq & mask
        masked = sequence & mask
        if (tx_masked < SEQUENCE_LOCKTIME_TYPE_FLAG) != (masked < SEQUENCE_LOCKTIME_TYPE_FLAG):
            return False
        return masked <= tx_masked


_PUBKEY_LEN = {0x02: 33, 0x03: 33, 0x04: 65, 0x06: 65, 0x07: 65}


class DeferringSignatureChecker(TxSignatureChecker):
    """A checker that answers every OP_CHECKSIG optimistically: it appends the verification
    it would do, ``(pubkey, der_signature, digest)``, to ``deferred`` and returns True.

    Sound only with its rule: the script's verdict under these answers is the real one if
    every deferred verification then succeeds. If one fails, or the script fails, the input
    must be checked again with a :class:`TxSignatureChecker` (the real answer may take
    another branch). Checks that fail before any crypto (empty signature, impossible key
    length) are answered for real, as is CHECKMULTISIG."""

    __slots__ = ("deferred",)

    def __init__(self, tx: Tx, n_in: int, amount: int, cache: PrecomputedTxData | None,
                 deferred: list[tuple[bytes, bytes, bytes]]) -> None:
        super().__init__(tx, n_in, amount, cache)
        self.deferred = deferred

    def check_ecdsa_signature_or_defer(self, sig: bytes, pubkey: bytes, script_code: bytes,
                                       sigversion: int) -> bool:
        args = self.ecdsa_verification(sig, pubkey, script_code, sigversion)
        if args is None:
            return False
        self.deferred.append(args)
        return True


# -- EvalScript ---------------------------------------------------------------------------------

def _fail(err: ScriptErr) -> ScriptError:
    return ScriptError(err)


def eval_script(stack: list[bytes], script: bytes, flags: int, checker: SignatureChecker,
                sigversion: int = SIGVERSION_BASE) -> None:
    """Run ``script`` on ``stack`` (modified in place). Raises ScriptError on failure."""
    flags = int(flags)
    if len(script) > MAX_SCRIPT_SIZE:
        raise _fail(ScriptErr.SCRIPT_SIZE)
    if len(stack) == 2 and len(script) == 25 and script.startswith(_P2PKH_PREFIX) and \
            script.endswith(_P2PKH_SUFFIX):
        _eval_p2pkh(stack, script, flags, checker, sigversion)
        return
    require_minimal = bool(flags & _MINIMALDATA)
    altstack: list[bytes] = []
    vf_exec: list[bool] = []  # Core's ConditionStack, as a plain list of branch values
    n_false = 0  # how many entries of vf_exec are False: executing iff zero
    op_count = 0
    begin_code_hash = 0
    pc = 0
    end = len(script)

    while pc < end:
        executing = n_false == 0
        op, data, pc = get_op(script, pc)
        if op < 0:
            raise _fail(ScriptErr.BAD_OPCODE)

        if op <= OP_PUSHDATA4:
            if len(data) > MAX_SCRIPT_ELEMENT_SIZE:  # type: ignore[arg-type]
                raise _fail(ScriptErr.PUSH_SIZE)
            if executing:
                if require_minimal and not check_minimal_push(data, op):  # type: ignore[arg-type]
                    raise _fail(ScriptErr.MINIMALDATA)
                stack.append(data)  # type: ignore[arg-type]
            if len(stack) + len(altstack) > MAX_STACK_SIZE:
                raise _fail(ScriptErr.STACK_SIZE)
            continue

        # Every non-push opcode counts toward the limit, executed or not.
        if op > OP_16:
            op_count += 1
            if op_count > MAX_OPS_PER_SCRIPT:
                raise _fail(ScriptErr.OP_COUNT)
        if op in DISABLED_OPCODES:
            raise _fail(ScriptErr.DISABLED_OPCODE)
        if op == OP_CODESEPARATOR and sigversion == SIGVERSION_BASE and \
                flags & _CONST_SCRIPTCODE:
            raise _fail(ScriptErr.OP_CODESEPARATOR)

        if not executing and not OP_IF <= op <= OP_ENDIF:
            continue

        if op == OP_1NEGATE or OP_1 <= op <= OP_16:
            stack.append(encode_num(op - (OP_1 - 1)))

        elif op == OP_DUP:
            if not stack:
                raise _fail(ScriptErr.INVALID_STACK_OPERATION)
            stack.append(stack[-1])

        elif op == OP_HASH160 or op == OP_SHA256 or op == OP_HASH256 or op == OP_RIPEMD160 \
                or op == OP_SHA1:
            if not stack:
                raise _fail(ScriptErr.INVALID_STACK_OPERATION)
            v = stack.pop()
            if op == OP_HASH160:
                stack.append(hash160(v))
            elif op == OP_SHA256:
                stack.append(sha256(v))
            elif op == OP_HASH256:
                stack.append(sha256d(v))
            elif op == OP_RIPEMD160:
                stack.append(ripemd160(v))
            else:
                stack.append(hashlib.sha1(v).digest())

        elif op == OP_EQUAL or op == OP_EQUALVERIFY:
            if len(stack) < 2:
                raise _fail(ScriptErr.INVALID_STACK_OPERATION)
            equal = stack.pop() == stack.pop()
            if op == OP_EQUALVERIFY:
                if not equal:
                    raise _fail(ScriptErr.EQUALVERIFY)
            else:
                stack.append(_TRUE if equal else _FALSE)

        elif op == OP_CHECKSIG or op == OP_CHECKSIGVERIFY:
            ok = _checksig(stack, script[begin_code_hash:], flags, checker, sigversion)
            if op == OP_CHECKSIGVERIFY:
                if not ok:
                    raise _fail(ScriptErr.CHECKSIGVERIFY)
            else:
                stack.append(_TRUE if ok else _FALSE)

        elif op == OP_IF or op == OP_NOTIF:
            value = False
            if executing:
                # Current Core (and its script_tests.json) report a missing IF argument as a
                # stack error; older releases said UNBALANCED_CONDITIONAL. Either way it fails.
                if not stack:
                    raise _fail(ScriptErr.INVALID_STACK_OPERATION)
                top = stack[-1]
                # BIP342/segwit policy: the argument must be exactly empty or 0x01.
                if sigversion == SIGVERSION_WITNESS_V0 and flags & _MINIMALIF:
                    if len(top) > 1 or (len(top) == 1 and top[0] != 1):
                        raise _fail(ScriptErr.MINIMALIF)
                value = cast_to_bool(top)
                if op == OP_NOTIF:
                    value = not value
                stack.pop()
            vf_exec.append(value)
            if not value:
                n_false += 1

        elif op == OP_ELSE:
            if not vf_exec:
                raise _fail(ScriptErr.UNBALANCED_CONDITIONAL)
            n_false += 1 if vf_exec[-1] else -1
            vf_exec[-1] = not vf_exec[-1]

        elif op == OP_ENDIF:
            if not vf_exec:
                raise _fail(ScriptErr.UNBALANCED_CONDITIONAL)
            if not vf_exec.pop():
                n_false -= 1

        elif op == OP_VERIFY:
            if not stack:
                raise _fail(ScriptErr.INVALID_STACK_OPERATION)
            if not cast_to_bool(stack[-1]):
                raise _fail(ScriptErr.VERIFY)
            stack.pop()

        elif op == OP_NOP:
            pass

        elif op == OP_CHECKLOCKTIMEVERIFY:
            if not flags & _CHECKLOCKTIMEVERIFY:
                # Not enforced: a plain OP_NOP2. Current Core no longer applies
                # DISCOURAGE_UPGRADABLE_NOPS here: the upgrade has happened.
                continue
            if not stack:
                raise _fail(ScriptErr.INVALID_STACK_OPERATION)
            # 5-byte operands: lock times up to 2^39-1 fit, beyond the 4-byte number limit.
            lock_time = decode_num(stack[-1], require_minimal, 5)
            if lock_time < 0:
                raise _fail(ScriptErr.NEGATIVE_LOCKTIME)
            if not checker.check_lock_time(lock_time):
                raise _fail(ScriptErr.UNSATISFIED_LOCKTIME)

        elif op == OP_CHECKSEQUENCEVERIFY:
            if not flags & _CHECKSEQUENCEVERIFY:
                continue  # a plain OP_NOP3, as for CLTV above
            if not stack:
                raise _fail(ScriptErr.INVALID_STACK_OPERATION)
            sequence = decode_num(stack[-1], require_minimal, 5)
            if sequence < 0:
                raise _fail(ScriptErr.NEGATIVE_LOCKTIME)
            # With the disable flag set the operand imposes nothing (room for future forks).
            if not sequence & SEQUENCE_LOCKTIME_DISABLE_FLAG and \
                    not checker.check_sequence(sequence):
                raise _fail(ScriptErr.UNSATISFIED_LOCKTIME)

        elif op == OP_NOP1 or OP_NOP4 <= op <= OP_NOP10:
            if flags & _DISCOURAGE_UPGRADABLE_NOPS:
                raise _fail(ScriptErr.DISCOURAGE_UPGRADABLE_NOPS)

        elif op == OP_RETURN:
            raise _fail(ScriptErr.OP_RETURN)

        elif op == OP_CHECKMULTISIG or op == OP_CHECKMULTISIGVERIFY:
            op_count = _checkmultisig(stack, script, begin_code_hash, flags, checker,
                                      sigversion, op, op_count, require_minimal)

        elif op == OP_CODESEPARATOR:
            # Signatures commit to the script after the last executed separator.
            begin_code_hash = pc

        elif OP_TOALTSTACK <= op <= OP_TUCK or op == OP_SIZE:
            _stack_op(op, stack, altstack, require_minimal)

        elif OP_1ADD <= op <= OP_WITHIN:
            _numeric_op(op, stack, require_minimal)

        else:
            # OP_RESERVED, OP_VER, OP_VERIF, OP_VERNOTIF, OP_RESERVED1/2, OP_CHECKSIGADD
            # (tapscript only) and undefined opcodes.
            raise _fail(ScriptErr.BAD_OPCODE)

        if len(stack) + len(altstack) > MAX_STACK_SIZE:
            raise _fail(ScriptErr.STACK_SIZE)

    if vf_exec:
        raise _fail(ScriptErr.UNBALANCED_CONDITIONAL)


# OP_DUP OP_HASH160 <20 bytes> OP_EQUALVERIFY OP_CHECKSIG: P2PKH, and what P2WPKH executes.
_P2PKH_PREFIX = b"\x76\xa9\x14"
_P2PKH_SUFFIX = b"\x88\xac"


def _eval_p2pkh(stack: list[bytes], script: bytes, flags: int, checker: SignatureChecker,
                sigversion: int) -> None:
    """The P2PKH template on a two-item stack [sig, pubkey], step for step what the general
    loop would do (no limit can be reached: 4 ops, 4 items), without its dispatch cost."""
    if hash160(stack[1]) != script[3:23]:
        raise _fail(ScriptErr.EQUALVERIFY)
    stack.append(_TRUE if _checksig(stack, script, flags, checker, sigversion) else _FALSE)


def _checksig(stack: list[bytes], script_code: bytes, flags: int, checker: SignatureChecker,
              sigversion: int) -> bool:
    """OP_CHECKSIG's work: pops <sig> <pubkey> and returns whether the signature is valid."""
    if len(stack) < 2:
        raise _fail(ScriptErr.INVALID_STACK_OPERATION)
    sig, pubkey = stack[-2], stack[-1]
    if sigversion == SIGVERSION_BASE:
        # Pre-segwit quirk: a signature cannot sign itself, so it is deleted from the
        # scriptCode (Core's FindAndDelete; CONST_SCRIPTCODE makes it policy-invalid).
        script_code, found = find_and_delete(script_code, push_data(sig))
        if found and flags & _CONST_SCRIPTCODE:
            raise _fail(ScriptErr.SIG_FINDANDDELETE)
    check_signature_encoding(sig, flags)
    check_pubkey_encoding(pubkey, flags, sigversion)
    ok = checker.check_ecdsa_signature_or_defer(sig, pubkey, script_code, sigversion)
    if not ok and flags & _NULLFAIL and sig:
        raise _fail(ScriptErr.NULLFAIL)
    del stack[-2:]
    return ok


def _stack_op(op: int, stack: list[bytes], altstack: list[bytes], require_minimal: bool) -> None:
    need = _STACK_NEEDS[op]
    if len(stack) < need:
        raise _fail(ScriptErr.INVALID_STACK_OPERATION)
    if op == OP_TOALTSTACK:
        altstack.append(stack.pop())
    elif op == OP_FROMALTSTACK:
        if not altstack:
            raise _fail(ScriptErr.INVALID_ALTSTACK_OPERATION)
        stack.append(altstack.pop())
    elif op == OP_2DROP:
        del stack[-2:]
    elif op == OP_2DUP:
        stack.extend(stack[-2:])
    elif op == OP_3DUP:
        stack.extend(stack[-3:])
    elif op == OP_2OVER:
        stack.extend(stack[-4:-2])
    elif op == OP_2ROT:
        pair = stack[-6:-4]
        del stack[-6:-4]
        stack.extend(pair)
    elif op == OP_2SWAP:
        stack[-4:] = stack[-2:] + stack[-4:-2]
    elif op == OP_IFDUP:
        if cast_to_bool(stack[-1]):
            stack.append(stack[-1])
    elif op == OP_DEPTH:
        stack.append(encode_num(len(stack)))
    elif op == OP_DROP:
        stack.pop()
    elif op == OP_NIP:
        del stack[-2]
    elif op == OP_OVER:
        stack.append(stack[-2])
    elif op == OP_PICK or op == OP_ROLL:
        n = decode_num(stack.pop(), require_minimal)
        if n < 0 or n >= len(stack):
            raise _fail(ScriptErr.INVALID_STACK_OPERATION)
        v = stack[-n - 1]
        if op == OP_ROLL:
            del stack[-n - 1]
        stack.append(v)
    elif op == OP_ROT:
        stack.append(stack.pop(-3))
    elif op == OP_SWAP:
        stack[-2], stack[-1] = stack[-1], stack[-2]
    elif op == OP_TUCK:
        stack.insert(-2, stack[-1])
    elif op == OP_SIZE:
        stack.append(encode_num(len(stack[-1])))


_STACK_NEEDS = {
    OP_TOALTSTACK: 1, OP_FROMALTSTACK: 0, OP_2DROP: 2, OP_2DUP: 2, OP_3DUP: 3, OP_2OVER: 4,
    OP_2ROT: 6, OP_2SWAP: 4, OP_IFDUP: 1, OP_DEPTH: 0, OP_DROP: 1, OP_DUP: 1, OP_NIP: 2,
    OP_OVER: 2, OP_PICK: 2, OP_ROLL: 2, OP_ROT: 3, OP_SWAP: 2, OP_TUCK: 2, OP_SIZE: 1,
}


def _numeric_op(op: int, stack: list[bytes], require_minimal: bool) -> None:
    if op <= OP_0NOTEQUAL:  # unary
        if not stack:
            raise _fail(ScriptErr.INVALID_STACK_OPERATION)
        a = decode_num(stack[-1], require_minimal)
        if op == OP_1ADD:
            r = a + 1
        elif op == OP_1SUB:
            r = a - 1
        elif op == OP_NEGATE:
            r = -a
        elif op == OP_ABS:
            r = abs(a)
        elif op == OP_NOT:
            r = int(a == 0)
        else:  # OP_0NOTEQUAL
            r = int(a != 0)
        stack[-1] = encode_num(r)
        return
    if op == OP_WITHIN:
        if len(stack) < 3:
            raise _fail(ScriptErr.INVALID_STACK_OPERATION)
        x = decode_num(stack[-3], require_minimal)
        lo = decode_num(stack[-2], require_minimal)
        hi = decode_num(stack[-1], require_minimal)
        del stack[-3:]
        stack.append(_TRUE if lo <= x < hi else _FALSE)
        return
    if len(stack) < 2:
        raise _fail(ScriptErr.INVALID_STACK_OPERATION)
    a = decode_num(stack[-2], require_minimal)
    b = decode_num(stack[-1], require_minimal)
    if op == OP_ADD:
        r = a + b
    elif op == OP_SUB:
        r = a - b
    elif op == OP_BOOLAND:
        r = int(a != 0 and b != 0)
    elif op == OP_BOOLOR:
        r = int(a != 0 or b != 0)
    elif op == OP_NUMEQUAL or op == OP_NUMEQUALVERIFY:
        r = int(a == b)
    elif op == OP_NUMNOTEQUAL:
        r = int(a != b)
    elif op == OP_LESSTHAN:
        r = int(a < b)
    elif op == OP_GREATERTHAN:
        r = int(a > b)
    elif op == OP_LESSTHANOREQUAL:
        r = int(a <= b)
    elif op == OP_GREATERTHANOREQUAL:
        r = int(a >= b)
    elif op == OP_MIN:
        r = min(a, b)
    elif op == OP_MAX:
        r = max(a, b)
    else:  # pragma: no cover - every opcode in the range is handled or disabled above
        raise _fail(ScriptErr.BAD_OPCODE)
    del stack[-2:]
    if op == OP_NUMEQUALVERIFY:
        if not r:
            raise _fail(ScriptErr.NUMEQUALVERIFY)
        return
    stack.append(encode_num(r))


def _checkmultisig(stack: list[bytes], script: bytes, begin_code_hash: int, flags: int,
                   checker: SignatureChecker, sigversion: int, op: int, op_count: int,
                   require_minimal: bool) -> int:
    """OP_CHECKMULTISIG[VERIFY], step for step as Core's, including the extra dummy element
    (BIP147 NULLDUMMY) and NULLFAIL's check of every signature. Returns the new op count."""
    i = 1
    if len(stack) < i:
        raise _fail(ScriptErr.INVALID_STACK_OPERATION)
    n_keys = decode_num(stack[-i], require_minimal)
    if n_keys < 0 or n_keys > MAX_PUBKEYS_PER_MULTISIG:
        raise _fail(ScriptErr.PUBKEY_COUNT)
    op_count += n_keys
    if op_count > MAX_OPS_PER_SCRIPT:
        raise _fail(ScriptErr.OP_COUNT)
    i += 1
    ikey = i
    # ikey2 is the position of the last non-signature item: NULLFAIL checks the rest.
    ikey2 = n_keys + 2
    i += n_keys
    if len(stack) < i:
        raise _fail(ScriptErr.INVALID_STACK_OPERATION)
    n_sigs = decode_num(stack[-i], require_minimal)
    if n_sigs < 0 or n_sigs > n_keys:
        raise _fail(ScriptErr.SIG_COUNT)
    i += 1
    isig = i
    i += n_sigs
    if len(stack) < i:
        raise _fail(ScriptErr.INVALID_STACK_OPERATION)

    script_code = script[begin_code_hash:]
    if sigversion == SIGVERSION_BASE:
        for k in range(n_sigs):
            script_code, found = find_and_delete(script_code, push_data(stack[-isig - k]))
            if found and flags & _CONST_SCRIPTCODE:
                raise _fail(ScriptErr.SIG_FINDANDDELETE)

    success = True
    while success and n_sigs > 0:
        sig = stack[-isig]
        pubkey = stack[-ikey]
        # Encoding is checked only for the pairs actually tried, as in Core.
        check_signature_encoding(sig, flags)
        check_pubkey_encoding(pubkey, flags, sigversion)
        if checker.check_ecdsa_signature(sig, pubkey, script_code, sigversion):
            isig += 1
            n_sigs -= 1
        ikey += 1
        n_keys -= 1
        # More signatures left than keys: cannot succeed.
        if n_sigs > n_keys:
            success = False

    # Pop the arguments; with NULLFAIL every signature of a failed check must be empty.
    while i > 1:
        i -= 1
        if not success and flags & _NULLFAIL and not ikey2 and stack[-1]:
            raise _fail(ScriptErr.NULLFAIL)
        if ikey2 > 0:
            ikey2 -= 1
        stack.pop()

    # A bug in the original implementation pops one extra element; BIP147 requires it empty.
    if not stack:
        raise _fail(ScriptErr.INVALID_STACK_OPERATION)
    if flags & _NULLDUMMY and stack[-1]:
        raise _fail(ScriptErr.SIG_NULLDUMMY)
    stack.pop()

    if op == OP_CHECKMULTISIGVERIFY:
        if not success:
            raise _fail(ScriptErr.CHECKMULTISIGVERIFY)
    else:
        stack.append(_TRUE if success else _FALSE)
    return op_count


# -- VerifyScript --------------------------------------------------------------------------------

def _execute_witness_script(stack: list[bytes], script: bytes, flags: int,
                            checker: SignatureChecker) -> None:
    for item in stack:
        if len(item) > MAX_SCRIPT_ELEMENT_SIZE:
            raise _fail(ScriptErr.PUSH_SIZE)
    eval_script(stack, script, flags, checker, SIGVERSION_WITNESS_V0)
    # Witness scripts implicitly require a clean stack (BIP141).
    if len(stack) != 1:
        raise _fail(ScriptErr.CLEANSTACK)
    if not cast_to_bool(stack[-1]):
        raise _fail(ScriptErr.EVAL_FALSE)


def verify_witness_program(witness: tuple[bytes, ...], version: int, program: bytes, flags: int,
                           checker: SignatureChecker, is_p2sh: bool) -> None:
    stack = list(witness)
    if version == 0:
        if len(program) == 32:  # P2WSH: the last witness item is the script
            if not stack:
                raise _fail(ScriptErr.WITNESS_PROGRAM_WITNESS_EMPTY)
            script = stack.pop()
            if sha256(script) != program:
                raise _fail(ScriptErr.WITNESS_PROGRAM_MISMATCH)
            _execute_witness_script(stack, script, flags, checker)
        elif len(program) == 20:  # P2WPKH: exactly a signature and a public key
            if len(stack) != 2:
                raise _fail(ScriptErr.WITNESS_PROGRAM_MISMATCH)
            _execute_witness_script(stack, p2wpkh_script_code(program), flags, checker)
        else:
            raise _fail(ScriptErr.WITNESS_PROGRAM_WRONG_LENGTH)
    elif version == 1 and len(program) == 32 and not is_p2sh:
        # Taproot (BIP341): not validated by minicash; like an unknown version, it succeeds.
        return
    elif flags & _DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM:
        raise _fail(ScriptErr.DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM)
    # Other versions and sizes are anyone-can-spend until a soft fork gives them meaning.


_P2SH_AND_WITNESS = _P2SH | _WITNESS


def _verify_p2wpkh(witness: tuple[bytes, ...], program: bytes, flags: int,
                   checker: SignatureChecker) -> None:
    """A P2WPKH spend with an empty scriptSig (the only valid one), step for step what the
    general path of verify_script does, which is most inputs a node sees: the scriptPubKey
    leaves the program on the stack (so an all-zero program is false), then BIP141 runs
    DUP HASH160 <program> EQUALVERIFY CHECKSIG on the two witness items, which must leave
    exactly one true element. No other check of the general path can fail here."""
    if not cast_to_bool(program):
        raise _fail(ScriptErr.EVAL_FALSE)
    if len(witness) != 2:
        raise _fail(ScriptErr.WITNESS_PROGRAM_MISMATCH)
    sig, pubkey = witness
    if len(sig) > MAX_SCRIPT_ELEMENT_SIZE or len(pubkey) > MAX_SCRIPT_ELEMENT_SIZE:
        raise _fail(ScriptErr.PUSH_SIZE)
    if hash160(pubkey) != program:
        raise _fail(ScriptErr.EQUALVERIFY)
    check_signature_encoding(sig, flags)
    check_pubkey_encoding(pubkey, flags, SIGVERSION_WITNESS_V0)
    if not checker.check_ecdsa_signature_or_defer(sig, pubkey, p2wpkh_script_code(program),
                                                  SIGVERSION_WITNESS_V0):
        if flags & _NULLFAIL and sig:
            raise _fail(ScriptErr.NULLFAIL)
        raise _fail(ScriptErr.EVAL_FALSE)


def verify_script(script_sig: bytes, script_pubkey: bytes, witness: tuple[bytes, ...],
                  flags: int, checker: SignatureChecker) -> None:
    """Core's VerifyScript. Raises ScriptError; returns None when the spend is valid."""
    flags = int(flags)
    if not script_sig and len(script_pubkey) == 22 and script_pubkey[0] == 0 and \
            script_pubkey[1] == 20 and flags & _P2SH_AND_WITNESS == _P2SH_AND_WITNESS:
        _verify_p2wpkh(witness, script_pubkey[2:], flags, checker)
        return
    _verify_script(script_sig, script_pubkey, witness, flags, checker)


def _verify_script(script_sig: bytes, script_pubkey: bytes, witness: tuple[bytes, ...],
                   flags: int, checker: SignatureChecker) -> None:
    """VerifyScript's general path, for every script (tests compare the fast paths with it)."""
    if flags & _SIGPUSHONLY and not is_push_only(script_sig):
        raise _fail(ScriptErr.SIG_PUSHONLY)

    stack: list[bytes] = []
    eval_script(stack, script_sig, flags, checker, SIGVERSION_BASE)
    stack_copy = list(stack) if flags & _P2SH else []
    eval_script(stack, script_pubkey, flags, checker, SIGVERSION_BASE)
    if not stack or not cast_to_bool(stack[-1]):
        raise _fail(ScriptErr.EVAL_FALSE)

    had_witness = False
    if flags & _WITNESS:
        wp = witness_program(script_pubkey)
        if wp is not None:
            had_witness = True
            if script_sig:
                raise _fail(ScriptErr.WITNESS_MALLEATED)
            verify_witness_program(witness, wp[0], wp[1], flags, checker, False)
            # The stack is not clean for witness programs: keep one element for CLEANSTACK.
            del stack[1:]

    if flags & _P2SH and is_p2sh(script_pubkey):
        if not is_push_only(script_sig):
            raise _fail(ScriptErr.SIG_PUSHONLY)
        stack = stack_copy
        redeem_script = stack.pop()
        eval_script(stack, redeem_script, flags, checker, SIGVERSION_BASE)
        if not stack or not cast_to_bool(stack[-1]):
            raise _fail(ScriptErr.EVAL_FALSE)
        if flags & _WITNESS:
            wp = witness_program(redeem_script)
            if wp is not None:
                had_witness = True
                # BIP141: a nested program's scriptSig must be exactly a push of it.
                if script_sig != push_data(redeem_script):
                    raise _fail(ScriptErr.WITNESS_MALLEATED_P2SH)
                verify_witness_program(witness, wp[0], wp[1], flags, checker, True)
                del stack[1:]

    # CLEANSTACK is checked only after P2SH and witness evaluation, whose inputs stay behind.
    if flags & _CLEANSTACK:
        if not flags & _P2SH or not flags & _WITNESS:
            raise ValueError("CLEANSTACK requires the P2SH and WITNESS flags")
        if len(stack) != 1:
            raise _fail(ScriptErr.CLEANSTACK)

    if flags & _WITNESS:
        if not flags & _P2SH:
            raise ValueError("WITNESS requires the P2SH flag")
        if not had_witness and witness:
            raise _fail(ScriptErr.WITNESS_UNEXPECTED)


def verify_input(tx: Tx, n_in: int, script_pubkey: bytes, amount: int, flags: int,
                 cache: PrecomputedTxData | None = None) -> None:
    """Verify input ``n_in`` of ``tx`` spending an output (``script_pubkey``, ``amount``)."""
    txin = tx.vin[n_in]
    verify_script(txin.script_sig, script_pubkey, txin.witness, flags,
                  TxSignatureChecker(tx, n_in, amount, cache))


# The only false 20-byte values (cast_to_bool): zeros, and zeros ending in a negative sign.
_FALSE_PROGRAMS = frozenset((bytes(20), bytes(19) + b"\x80"))


def defer_input(tx: Tx, n_in: int, script_pubkey: bytes, amount: int, flags: int,
                cache: PrecomputedTxData | None,
                deferred: list[tuple[bytes, bytes, bytes]]) -> None:
    """``verify_input`` with a :class:`DeferringSignatureChecker` appending to ``deferred``,
    under the same rule (a failed record, or a ScriptError, means: run it again for real).

    The spend most inputs are, P2WPKH with a compressed key and a SIGHASH_ALL signature that
    passes every encoding rule, is done here in one function: what ``_verify_p2wpkh`` and
    the checker's chain of calls do for it (BIP141's program check, BIP143's digest), without
    the ~10 Python calls between them. Anything else, including every failure, takes the
    general path, which then finds the exact error."""
    txin = tx.vin[n_in]
    witness = txin.witness
    if (len(script_pubkey) == 22 and script_pubkey[0] == 0 and script_pubkey[1] == 20
            and len(witness) == 2 and not txin.script_sig
            and flags & _P2SH_AND_WITNESS == _P2SH_AND_WITNESS):
        sig, pubkey = witness
        program = script_pubkey[2:]
        if (len(pubkey) == 33 and (pubkey[0] == 2 or pubkey[0] == 3)
                and 9 <= len(sig) <= 73 and sig[-1] == SIGHASH_ALL
                and program not in _FALSE_PROGRAMS and hash160(pubkey) == program
                and (not flags & _DER_CHECKS or is_valid_signature_encoding(sig))
                and (not flags & _LOW_S or is_low_der_signature(sig))):
            deferred.append((pubkey, sig[:-1],
                             p2wpkh_sighash_all(tx, n_in, program, amount, cache)))
            return
    verify_script(txin.script_sig, script_pubkey, witness, flags,
                  DeferringSignatureChecker(tx, n_in, amount, cache, deferred))


__all__ = [
    "SIGHASH_SINGLE", "OP_0", "SignatureChecker", "TxSignatureChecker",
    "DeferringSignatureChecker", "eval_script",
    "verify_script", "verify_input", "defer_input", "verify_witness_program",
    "check_signature_encoding",
    "check_pubkey_encoding", "is_valid_signature_encoding",
]
