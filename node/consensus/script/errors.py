"""Script errors, named exactly as Bitcoin Core names them (script/script_error.h, less the
``SCRIPT_ERR_`` prefix), so that conformance vectors and reject reasons match Core's."""

from __future__ import annotations

from enum import StrEnum

from ..errors import MinicashError


class ScriptErr(StrEnum):
    OK = "OK"
    UNKNOWN_ERROR = "UNKNOWN_ERROR"
    EVAL_FALSE = "EVAL_FALSE"
    OP_RETURN = "OP_RETURN"
    # size and count limits
    SCRIPT_SIZE = "SCRIPT_SIZE"
    PUSH_SIZE = "PUSH_SIZE"
    OP_COUNT = "OP_COUNT"
    STACK_SIZE = "STACK_SIZE"
    SIG_COUNT = "SIG_COUNT"
    PUBKEY_COUNT = "PUBKEY_COUNT"
    # failed verify operations
    VERIFY = "VERIFY"
    EQUALVERIFY = "EQUALVERIFY"
    CHECKMULTISIGVERIFY = "CHECKMULTISIGVERIFY"
    CHECKSIGVERIFY = "CHECKSIGVERIFY"
    NUMEQUALVERIFY = "NUMEQUALVERIFY"
    # logical and other errors
    BAD_OPCODE = "BAD_OPCODE"
    DISABLED_OPCODE = "DISABLED_OPCODE"
    INVALID_STACK_OPERATION = "INVALID_STACK_OPERATION"
    INVALID_ALTSTACK_OPERATION = "INVALID_ALTSTACK_OPERATION"
    UNBALANCED_CONDITIONAL = "UNBALANCED_CONDITIONAL"
    # CHECKLOCKTIMEVERIFY and CHECKSEQUENCEVERIFY
    NEGATIVE_LOCKTIME = "NEGATIVE_LOCKTIME"
    UNSATISFIED_LOCKTIME = "UNSATISFIED_LOCKTIME"
    # malleability
    SIG_HASHTYPE = "SIG_HASHTYPE"
    SIG_DER = "SIG_DER"
    MINIMALDATA = "MINIMALDATA"
    SIG_PUSHONLY = "SIG_PUSHONLY"
    SIG_HIGH_S = "SIG_HIGH_S"
    SIG_NULLDUMMY = "SIG_NULLDUMMY"
    PUBKEYTYPE = "PUBKEYTYPE"
    CLEANSTACK = "CLEANSTACK"
    MINIMALIF = "MINIMALIF"
    NULLFAIL = "NULLFAIL"
    # softfork safeness
    DISCOURAGE_UPGRADABLE_NOPS = "DISCOURAGE_UPGRADABLE_NOPS"
    DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM = "DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM"
    # segregated witness
    WITNESS_PROGRAM_WRONG_LENGTH = "WITNESS_PROGRAM_WRONG_LENGTH"
    WITNESS_PROGRAM_WITNESS_EMPTY = "WITNESS_PROGRAM_WITNESS_EMPTY"
    WITNESS_PROGRAM_MISMATCH = "WITNESS_PROGRAM_MISMATCH"
    WITNESS_MALLEATED = "WITNESS_MALLEATED"
    WITNESS_MALLEATED_P2SH = "WITNESS_MALLEATED_P2SH"
    WITNESS_UNEXPECTED = "WITNESS_UNEXPECTED"
    WITNESS_PUBKEYTYPE = "WITNESS_PUBKEYTYPE"
    # constant scriptCode
    OP_CODESEPARATOR = "OP_CODESEPARATOR"
    SIG_FINDANDDELETE = "SIG_FINDANDDELETE"
    SCRIPTNUM = "SCRIPTNUM"


# Core's ScriptErrorString, used in reject reasons ("mandatory-script-verify-flag-failed (...)").
_MESSAGES = {
    ScriptErr.OK: "No error",
    ScriptErr.EVAL_FALSE: "Script evaluated without error but finished with a false/empty top stack element",
    ScriptErr.VERIFY: "Script failed an OP_VERIFY operation",
    ScriptErr.EQUALVERIFY: "Script failed an OP_EQUALVERIFY operation",
    ScriptErr.CHECKMULTISIGVERIFY: "Script failed an OP_CHECKMULTISIGVERIFY operation",
    ScriptErr.CHECKSIGVERIFY: "Script failed an OP_CHECKSIGVERIFY operation",
    ScriptErr.NUMEQUALVERIFY: "Script failed an OP_NUMEQUALVERIFY operation",
    ScriptErr.SCRIPT_SIZE: "Script is too big",
    ScriptErr.PUSH_SIZE: "Push value size limit exceeded",
    ScriptErr.OP_COUNT: "Operation limit exceeded",
    ScriptErr.STACK_SIZE: "Stack size limit exceeded",
    ScriptErr.SIG_COUNT: "Signature count negative or greater than pubkey count",
    ScriptErr.PUBKEY_COUNT: "Pubkey count negative or limit exceeded",
    ScriptErr.BAD_OPCODE: "Opcode missing or not understood",
    ScriptErr.DISABLED_OPCODE: "Attempted to use a disabled opcode",
    ScriptErr.INVALID_STACK_OPERATION: "Operation not valid with the current stack size",
    ScriptErr.INVALID_ALTSTACK_OPERATION: "Operation not valid with the current altstack size",
    ScriptErr.OP_RETURN: "OP_RETURN was encountered",
    ScriptErr.UNBALANCED_CONDITIONAL: "Invalid OP_IF construction",
    ScriptErr.NEGATIVE_LOCKTIME: "Negative locktime",
    ScriptErr.UNSATISFIED_LOCKTIME: "Locktime requirement not satisfied",
    ScriptErr.SIG_HASHTYPE: "Signature hash type missing or not understood",
    ScriptErr.SIG_DER: "Non-canonical DER signature",
    ScriptErr.MINIMALDATA: "Data push larger than necessary",
    ScriptErr.SIG_PUSHONLY: "Only push operators allowed in signatures",
    ScriptErr.SIG_HIGH_S: "Non-canonical signature: S value is unnecessarily high",
    ScriptErr.SIG_NULLDUMMY: "Dummy CHECKMULTISIG argument must be zero",
    ScriptErr.MINIMALIF: "OP_IF/NOTIF argument must be minimal",
    ScriptErr.NULLFAIL: "Signature must be zero for failed CHECK(MULTI)SIG operation",
    ScriptErr.DISCOURAGE_UPGRADABLE_NOPS: "NOPx reserved for soft-fork upgrades",
    ScriptErr.DISCOURAGE_UPGRADABLE_WITNESS_PROGRAM: "Witness version reserved for soft-fork upgrades",
    ScriptErr.PUBKEYTYPE: "Public key is neither compressed or uncompressed",
    ScriptErr.CLEANSTACK: "Stack size must be exactly one after execution",
    ScriptErr.WITNESS_PROGRAM_WRONG_LENGTH: "Witness program has incorrect length",
    ScriptErr.WITNESS_PROGRAM_WITNESS_EMPTY: "Witness program was passed an empty witness",
    ScriptErr.WITNESS_PROGRAM_MISMATCH: "Witness program hash mismatch",
    ScriptErr.WITNESS_MALLEATED: "Witness requires empty scriptSig",
    ScriptErr.WITNESS_MALLEATED_P2SH: "Witness requires only-redeemscript scriptSig",
    ScriptErr.WITNESS_UNEXPECTED: "Witness provided for non-witness script",
    ScriptErr.WITNESS_PUBKEYTYPE: "Using non-compressed keys in segwit",
    ScriptErr.OP_CODESEPARATOR: "Using OP_CODESEPARATOR in non-witness script",
    ScriptErr.SIG_FINDANDDELETE: "Signature is found in scriptCode",
    ScriptErr.SCRIPTNUM: "Script number overflowed or is non-minimally encoded",
}


def script_error_string(err: ScriptErr) -> str:
    return _MESSAGES.get(err, "unknown error")


class ScriptError(MinicashError):
    """A script failed to verify; ``err`` names the failure as Core does."""

    def __init__(self, err: ScriptErr) -> None:
        super().__init__(f"{err.value}: {script_error_string(err)}")
        self.err = err
