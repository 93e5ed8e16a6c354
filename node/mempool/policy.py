"""Bitcoin Core's transaction standardness policy (policy/policy.{h,cpp}, script/solver.cpp).

Pure functions of a transaction and the coins it spends: which output scripts are standard
(:func:`solver`, :func:`is_standard_output`), dust (:func:`dust_threshold`), the whole-tx rules
(:func:`check_standard_tx`, :func:`check_tx_size_small`), the input rules
(:func:`check_inputs_standard`, :func:`check_witness_standard`), and the size and fee arithmetic
the pool uses (:func:`virtual_size`, :func:`fee_for`). A broken rule raises
:class:`~node.consensus.errors.ValidationError` with Core's reject reason.

Reference: Bitcoin Core v29 (TRUC/v3 transactions standard, pay-to-anchor outputs, one dust
output allowed per transaction for ephemeral dust, an 83-byte OP_RETURN limit and at most one
OP_RETURN output). v30 later raised the OP_RETURN limit to 100,000 bytes, allowed several
OP_RETURN outputs and lowered the relay fees to 100 sat/kvB; none of that is followed here.
The debug strings of :func:`check_inputs_standard` are those of Core's later
ValidateInputsStandardness (PR #29060); v29 itself gives none.

No I/O, no clock, no chain access: the caller passes the spent coins in input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from node.consensus.coin import Coin
from node.consensus.dust import DUST_RELAY_TX_FEE, dust_threshold, fee_for, is_dust
from node.consensus.errors import ValidationError
from node.consensus.primitives import WITNESS_SCALE_FACTOR, Tx
from node.consensus.script.errors import ScriptError, script_error_string
from node.consensus.script.flags import Flag
from node.consensus.script.interpreter import SignatureChecker, eval_script
from node.consensus.script.num import decode_num
from node.consensus.script.opcodes import (
    DISABLED_OPCODES,
    OP_0,
    OP_1,
    OP_15,
    OP_16,
    OP_CHECKMULTISIG,
    OP_CHECKSIG,
    OP_CHECKSIGADD,
    OP_DUP,
    OP_EQUALVERIFY,
    OP_HASH160,
    OP_PUSHDATA4,
    OP_RESERVED,
    OP_RESERVED1,
    OP_RESERVED2,
    OP_RETURN,
    OP_VER,
    OP_VERIF,
    OP_VERNOTIF,
)
from node.consensus.script.script import (
    MAX_PUBKEYS_PER_MULTISIG,
    check_minimal_push,
    get_op,
    is_p2sh,
    is_push_only,
    is_unspendable,
    witness_program,
)
from node.consensus.script.sigops import script_sigop_count

# -- constants ----------------------------------------------------------------------------------
# Values and names as in Bitcoin Core v29 policy/policy.h unless another file is named.

# Core: MAX_STANDARD_TX_WEIGHT (policy/policy.h). Largest weight relayed or mined ("tx-size").
MAX_STANDARD_TX_WEIGHT = 400_000
# Core: MIN_STANDARD_TX_NONWITNESS_SIZE (policy/policy.h): one more than 64, so that no
# transaction can be confused with an inner merkle node (CVE-2017-12842) ("tx-size-small").
MIN_STANDARD_TX_NONWITNESS_SIZE = 65
# Core: MAX_P2SH_SIGOPS (policy/policy.h). Most sigops a standard P2SH redeem script may count.
MAX_P2SH_SIGOPS = 15
# Core: MAX_STANDARD_TX_SIGOPS_COST (policy/policy.h): MAX_BLOCK_SIGOPS_COST / 5.
MAX_STANDARD_TX_SIGOPS_COST = 80_000 // 5
# Core: DEFAULT_BYTES_PER_SIGOP (policy/policy.h), the default of -bytespersigop.
DEFAULT_BYTES_PER_SIGOP = 20
# Core: DEFAULT_PERMIT_BAREMULTISIG (policy/policy.h), the default of -permitbaremultisig.
DEFAULT_PERMIT_BAREMULTISIG = True
# Core: MAX_STANDARD_SCRIPTSIG_SIZE (policy/policy.h): a 15-of-15 P2SH multisig spend (1,627
# bytes) rounded up.
MAX_STANDARD_SCRIPTSIG_SIZE = 1_650
# Core: MAX_STANDARD_P2WSH_STACK_ITEMS, MAX_STANDARD_P2WSH_STACK_ITEM_SIZE,
# MAX_STANDARD_P2WSH_SCRIPT_SIZE (policy/policy.h): limits on a P2WSH witness.
MAX_STANDARD_P2WSH_STACK_ITEMS = 100
MAX_STANDARD_P2WSH_STACK_ITEM_SIZE = 80
MAX_STANDARD_P2WSH_SCRIPT_SIZE = 3_600
# Core: MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE (policy/policy.h): stack items of a tapscript
# (leaf version 0xc0) spend.
MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE = 80
# Core: DEFAULT_MIN_RELAY_TX_FEE (policy/policy.h), sat/kvB: the default -minrelaytxfee.
DEFAULT_MIN_RELAY_TX_FEE = 1_000
# Core: DEFAULT_INCREMENTAL_RELAY_FEE (policy/policy.h), sat/kvB: the minimum fee-rate increase
# for replacement and mempool limiting.
DEFAULT_INCREMENTAL_RELAY_FEE = 1_000
# Core: DEFAULT_ACCEPT_DATACARRIER and MAX_OP_RETURN_RELAY (policy/policy.h): the default
# -datacarriersize, 80 bytes of data + OP_RETURN + 2 bytes of push opcode.
DEFAULT_ACCEPT_DATACARRIER = True
MAX_OP_RETURN_RELAY = 83
# Core: MAX_DUST_OUTPUTS_PER_TX (policy/policy.h, v29): ephemeral dust allows one dust output.
MAX_DUST_OUTPUTS_PER_TX = 1
# Core: TX_MAX_STANDARD_VERSION (policy/policy.h): 3 since v28 made TRUC (BIP431) transactions
# standard. Core v29 writes the lower bound as a literal 1; later releases name it
# TX_MIN_STANDARD_VERSION.
TX_MIN_STANDARD_VERSION = 1
TX_MAX_STANDARD_VERSION = 3
# Core: DEFAULT_ANCESTOR_LIMIT, DEFAULT_ANCESTOR_SIZE_LIMIT_KVB, DEFAULT_DESCENDANT_LIMIT,
# DEFAULT_DESCENDANT_SIZE_LIMIT_KVB (policy/policy.h): in-pool package limits.
DEFAULT_ANCESTOR_LIMIT = 25
DEFAULT_ANCESTOR_SIZE_LIMIT_KVB = 101
DEFAULT_DESCENDANT_LIMIT = 25
DEFAULT_DESCENDANT_SIZE_LIMIT_KVB = 101
# Core: DEFAULT_MAX_MEMPOOL_SIZE_MB and DEFAULT_MEMPOOL_EXPIRY_HOURS (kernel/mempool_options.h):
# the defaults of -maxmempool (decimal megabytes) and -mempoolexpiry (two weeks).
DEFAULT_MAX_MEMPOOL_SIZE_MB = 300
DEFAULT_MEMPOOL_EXPIRY_HOURS = 336
# Core: MAX_REPLACEMENT_CANDIDATES (policy/rbf.h): BIP125 rule 5, most transactions one
# replacement may evict.
MAX_BIP125_REPLACEMENT_CANDIDATES = 100

# Core: WITNESS_V0_KEYHASH_SIZE, WITNESS_V0_SCRIPTHASH_SIZE, WITNESS_V1_TAPROOT_SIZE
# (script/interpreter.h); ANNEX_TAG, TAPROOT_LEAF_MASK, TAPROOT_LEAF_TAPSCRIPT (same file).
WITNESS_V0_KEYHASH_SIZE = 20
WITNESS_V0_SCRIPTHASH_SIZE = 32
WITNESS_V1_TAPROOT_SIZE = 32
ANNEX_TAG = 0x50
TAPROOT_LEAF_MASK = 0xFE
TAPROOT_LEAF_TAPSCRIPT = 0xC0

# Core: CScript::IsPayToAnchor (script/script.cpp): OP_1 <0x4e73>, BIP-less "P2A" (v28).
PAY_TO_ANCHOR = bytes((OP_1, 0x02, 0x4E, 0x73))

_REJECT_NONSTANDARD_INPUTS = "bad-txns-nonstandard-inputs"
_REJECT_WITNESS = "bad-witness-nonstandard"


# -- the solver ---------------------------------------------------------------------------------

class TxoutType(StrEnum):
    """Core's TxoutType (script/solver.h); each value is Core's GetTxnOutputType name."""

    NONSTANDARD = "nonstandard"
    PUBKEY = "pubkey"
    PUBKEYHASH = "pubkeyhash"
    SCRIPTHASH = "scripthash"
    MULTISIG = "multisig"
    NULL_DATA = "nulldata"  # unspendable OP_RETURN script that carries data
    ANCHOR = "anchor"  # pay-to-anchor, OP_1 <0x4e73> (Core v28+)
    WITNESS_V0_KEYHASH = "witness_v0_keyhash"
    WITNESS_V0_SCRIPTHASH = "witness_v0_scripthash"
    WITNESS_V1_TAPROOT = "witness_v1_taproot"
    WITNESS_UNKNOWN = "witness_unknown"  # witness versions not defined above


def script_type_name(kind: TxoutType) -> str:
    """Core's GetTxnOutputType: the name RPCs print ("pubkeyhash", "witness_v0_keyhash", ...)."""
    return kind.value


def _pubkey_valid_size(data: bytes | None) -> bool:
    """Core's CPubKey::ValidSize: the length the header byte promises (33 or 65)."""
    if not data:
        return False
    first = data[0]
    if first in (2, 3):
        return len(data) == 33
    if first in (4, 6, 7):
        return len(data) == 65
    return False


def _script_number(op: int, data: bytes | None, low: int, high: int) -> int | None:
    """Core's GetScriptNumber (script/solver.cpp): OP_1..OP_16, or a minimal push of a number
    (at most 4 bytes), within [low, high]."""
    if OP_1 <= op <= OP_16:
        n = op - (OP_1 - 1)
    elif 0 < op <= OP_PUSHDATA4 and data is not None:  # Core's IsPushdataOp excludes OP_0
        if not check_minimal_push(data, op):
            return None
        try:
            n = decode_num(data, require_minimal=True)
        except ScriptError:
            return None
    else:
        return None
    return n if low <= n <= high else None


def _match_multisig(script: bytes) -> tuple[int, list[bytes]] | None:
    """Core's MatchMultisig: <m> <key>... <n> OP_CHECKMULTISIG with n keys of valid size."""
    end = len(script)
    if end < 1 or script[-1] != OP_CHECKMULTISIG:
        return None
    op, data, pc = get_op(script, 0)
    required = _script_number(op, data, 1, MAX_PUBKEYS_PER_MULTISIG)
    if required is None:
        return None
    keys: list[bytes] = []
    op, data = -1, None
    while pc < end:
        op, data, pc = get_op(script, pc)
        if op < 0 or not _pubkey_valid_size(data):
            break
        keys.append(data)  # type: ignore[arg-type]
        op, data = -1, None  # Core: a loop that runs out of script leaves no opcode behind
    count = _script_number(op, data, required, MAX_PUBKEYS_PER_MULTISIG)
    if count is None or count != len(keys):
        return None
    return (required, keys) if pc + 1 == end else None


def solver(script_pubkey: bytes) -> tuple[TxoutType, list[bytes]]:
    """Core's Solver (script/solver.cpp): the template a scriptPubKey matches, and its parts.

    Solutions, as Core returns them: the 20-byte hash (PUBKEYHASH, SCRIPTHASH,
    WITNESS_V0_KEYHASH), the 32-byte program (WITNESS_V0_SCRIPTHASH, WITNESS_V1_TAPROOT), the
    key (PUBKEY), ``[bytes([m]), key..., bytes([n])]`` (MULTISIG), ``[bytes([version]),
    program]`` (WITNESS_UNKNOWN) and nothing for NULL_DATA, ANCHOR and NONSTANDARD.
    """
    s = script_pubkey
    # P2SH first: it is more constrained than the others.
    if is_p2sh(s):
        return TxoutType.SCRIPTHASH, [s[2:22]]

    wp = witness_program(s)
    if wp is not None:
        version, program = wp
        if version == 0 and len(program) == WITNESS_V0_KEYHASH_SIZE:
            return TxoutType.WITNESS_V0_KEYHASH, [program]
        if version == 0 and len(program) == WITNESS_V0_SCRIPTHASH_SIZE:
            return TxoutType.WITNESS_V0_SCRIPTHASH, [program]
        if version == 1 and len(program) == WITNESS_V1_TAPROOT_SIZE:
            return TxoutType.WITNESS_V1_TAPROOT, [program]
        if s == PAY_TO_ANCHOR:
            return TxoutType.ANCHOR, []
        if version != 0:
            return TxoutType.WITNESS_UNKNOWN, [bytes((version,)), program]
        return TxoutType.NONSTANDARD, []  # version 0 of any other length

    # Provably unspendable data carrier: OP_RETURN then only pushes (OP_RESERVED counts).
    if s and s[0] == OP_RETURN and is_push_only(s[1:]):
        return TxoutType.NULL_DATA, []

    n = len(s)
    if (n == 67 and s[0] == 65 or n == 35 and s[0] == 33) and s[-1] == OP_CHECKSIG:
        key = s[1:-1]
        if _pubkey_valid_size(key):
            return TxoutType.PUBKEY, [key]
        # Core's MatchPayToPubkey fails here and the script falls through to the others.

    if n == 25 and s[0] == OP_DUP and s[1] == OP_HASH160 and s[2] == 20 and \
            s[23] == OP_EQUALVERIFY and s[24] == OP_CHECKSIG:
        return TxoutType.PUBKEYHASH, [s[3:23]]

    multisig = _match_multisig(s)
    if multisig is not None:
        required, keys = multisig
        return TxoutType.MULTISIG, [bytes((required,)), *keys, bytes((len(keys),))]

    return TxoutType.NONSTANDARD, []


def is_standard_output(script_pubkey: bytes,
                       max_datacarrier_bytes: int | None = MAX_OP_RETURN_RELAY,
                       permit_bare_multisig: bool = True) -> TxoutType | None:
    """Core's IsStandard (policy/policy.cpp): the output's type if standard, else None.

    ``max_datacarrier_bytes`` limits a NULL_DATA script's whole size (Core's -datacarriersize;
    None is -datacarrier=0). Bare multisig is standard up to 3 keys (m-of-n, 1 <= m <= n <= 3).
    Core's IsStandard has no ``permit_bare_multisig``: false here also refuses bare multisig
    (-permitbaremultisig=0), which :func:`check_standard_tx` reports as "bare-multisig".
    """
    kind, solutions = solver(script_pubkey)
    if kind is TxoutType.NONSTANDARD:
        return None
    if kind is TxoutType.MULTISIG:
        m, n = solutions[0][0], solutions[-1][0]
        if not 1 <= n <= 3 or not 1 <= m <= n or not permit_bare_multisig:
            return None
    elif kind is TxoutType.NULL_DATA:
        if max_datacarrier_bytes is None or len(script_pubkey) > max_datacarrier_bytes:
            return None
    return kind


# -- Esplora's names ----------------------------------------------------------------------------

# rust-bitcoin's Opcode::classify(Legacy) IllegalOp and ReturnOp classes, which make a script
# starting with them "provably unspendable" in Esplora's (electrs's) terms.
_ESPLORA_UNSPENDABLE_FIRST = frozenset({
    OP_VERIF, OP_VERNOTIF, *DISABLED_OPCODES,
    OP_RETURN, OP_RESERVED, OP_VER, OP_RESERVED1, OP_RESERVED2,
    *range(OP_CHECKSIGADD, 0x100),
})

_ESPLORA_BY_TYPE = {
    TxoutType.NONSTANDARD: "unknown",
    TxoutType.PUBKEY: "p2pk",
    TxoutType.PUBKEYHASH: "p2pkh",
    TxoutType.SCRIPTHASH: "p2sh",
    TxoutType.MULTISIG: "multisig",
    TxoutType.NULL_DATA: "op_return",
    TxoutType.ANCHOR: "anchor",
    TxoutType.WITNESS_V0_KEYHASH: "v0_p2wpkh",
    TxoutType.WITNESS_V0_SCRIPTHASH: "v0_p2wsh",
    TxoutType.WITNESS_V1_TAPROOT: "v1_p2tr",
    TxoutType.WITNESS_UNKNOWN: "unknown",
}


def esplora_type_name(script: bytes | TxoutType) -> str:
    """The ``scriptpubkey_type`` an Esplora server (electrs, src/rest.rs) reports.

    Given a scriptPubKey, classifies it exactly as electrs does, which is by byte pattern and
    not by Core's solver: "empty", "op_return" (any script starting with OP_RETURN), "p2pk"
    (header byte unchecked), "p2pkh", "p2sh", "v0_p2wpkh", "v0_p2wsh", "v1_p2tr", "anchor",
    "multisig" (mempool.space's electrs: OP_m ... OP_n OP_CHECKMULTISIG, n <= 15, 37+ bytes),
    "provably_unspendable" (starts with an opcode that always fails), else "unknown".
    Given a :class:`TxoutType`, returns the name of that type's ordinary scripts.
    """
    if isinstance(script, TxoutType):
        return _ESPLORA_BY_TYPE[script]
    s = script
    n = len(s)
    if n == 0:
        return "empty"
    if s[0] == OP_RETURN:
        return "op_return"
    if (n == 67 and s[0] == 65 or n == 35 and s[0] == 33) and s[-1] == OP_CHECKSIG:
        return "p2pk"
    if n == 25 and s[:3] == bytes((OP_DUP, OP_HASH160, 20)) and \
            s[23:] == bytes((OP_EQUALVERIFY, OP_CHECKSIG)):
        return "p2pkh"
    if is_p2sh(s):
        return "p2sh"
    if n == 22 and s[0] == OP_0 and s[1] == 20:
        return "v0_p2wpkh"
    if n == 34 and s[0] == OP_0 and s[1] == 32:
        return "v0_p2wsh"
    if n == 34 and s[0] == OP_1 and s[1] == 32:
        return "v1_p2tr"
    if s == PAY_TO_ANCHOR:
        return "anchor"
    if n >= 37 and s[-1] == OP_CHECKMULTISIG and OP_1 <= s[-2] <= OP_15 and \
            OP_1 <= s[0] <= s[-2]:
        return "multisig"
    if s[0] in _ESPLORA_UNSPENDABLE_FIRST:
        return "provably_unspendable"
    return "unknown"


# -- fees, sizes and dust -----------------------------------------------------------------------
# Core's dust rule (GetDustThreshold, IsDust) and fee rounding (CFeeRate::GetFee) live in
# node.consensus.dust, shared with the wallet, and CScript::IsUnspendable in
# node.consensus.script.script; all are imported above and re-exported in __all__.

def virtual_size(weight: int, sigop_cost: int,
                 bytes_per_sigop: int = DEFAULT_BYTES_PER_SIGOP) -> int:
    """Core's GetVirtualTransactionSize: weight, or sigop cost x bytes_per_sigop when larger
    (so sigop-heavy transactions pay for the block space their sigops use), in vbytes rounded
    up."""
    adjusted = max(weight, sigop_cost * bytes_per_sigop)  # Core: GetSigOpsAdjustedWeight
    return (adjusted + WITNESS_SCALE_FACTOR - 1) // WITNESS_SCALE_FACTOR


def get_dust(tx: Tx, dust_relay_fee: int = DUST_RELAY_TX_FEE) -> list[int]:
    """Core's GetDust: the indexes of the transaction's dust outputs."""
    return [i for i, out in enumerate(tx.vout) if is_dust(out, dust_relay_fee)]


# -- whole-transaction rules --------------------------------------------------------------------

def check_standard_tx(tx: Tx, *, permit_bare_multisig: bool = DEFAULT_PERMIT_BAREMULTISIG,
                      dust_relay_fee: int = DUST_RELAY_TX_FEE,
                      max_datacarrier_bytes: int | None = MAX_OP_RETURN_RELAY) -> None:
    """Core's IsStandardTx (v29), in Core's order: "version", "tx-size", then per input
    "scriptsig-size" and "scriptsig-not-pushonly", then per output "scriptpubkey" and
    "bare-multisig", then "dust" (more than MAX_DUST_OUTPUTS_PER_TX dust outputs), then
    "multi-op-return".

    One dust output passes here: Core v29 allows it as ephemeral dust, and a transaction
    carrying it must also pay no fee (:func:`pre_check_ephemeral_tx`, which needs the fee) and
    have its dust spent by a child in the same package (Core's CheckEphemeralSpends).
    """
    version = tx.version & 0xFFFFFFFF  # Core v28+ keeps the version as uint32
    if not TX_MIN_STANDARD_VERSION <= version <= TX_MAX_STANDARD_VERSION:
        raise ValidationError("version")

    # Signature hashing is O(inputs x size): the weight cap bounds the CPU a tx can cost.
    if tx.weight > MAX_STANDARD_TX_WEIGHT:
        raise ValidationError("tx-size")

    for txin in tx.vin:
        if len(txin.script_sig) > MAX_STANDARD_SCRIPTSIG_SIZE:
            raise ValidationError("scriptsig-size")
        if not is_push_only(txin.script_sig):
            raise ValidationError("scriptsig-not-pushonly")

    data_outputs = 0
    for txout in tx.vout:
        kind = is_standard_output(txout.script_pubkey, max_datacarrier_bytes)
        if kind is None:
            raise ValidationError("scriptpubkey")
        if kind is TxoutType.NULL_DATA:
            data_outputs += 1
        elif kind is TxoutType.MULTISIG and not permit_bare_multisig:
            raise ValidationError("bare-multisig")

    if len(get_dust(tx, dust_relay_fee)) > MAX_DUST_OUTPUTS_PER_TX:
        raise ValidationError("dust")

    if data_outputs > 1:
        raise ValidationError("multi-op-return")


def check_tx_size_small(tx: Tx) -> None:
    """Core's MemPoolAccept::PreChecks size floor: a non-witness size under 65 bytes could be
    mistaken for a 64-byte merkle node (CVE-2017-12842) ("tx-size-small")."""
    if tx.base_size < MIN_STANDARD_TX_NONWITNESS_SIZE:
        raise ValidationError("tx-size-small")


def pre_check_ephemeral_tx(tx: Tx, base_fee: int, mod_fee: int | None = None,
                           dust_relay_fee: int = DUST_RELAY_TX_FEE) -> None:
    """Core's PreCheckEphemeralTx (policy/ephemeral_policy.cpp, v29): a transaction with a
    dust output must pay no fee (nor have one added by prioritisation), so that it is never
    worth mining without the child that sweeps the dust ("dust")."""
    if mod_fee is None:
        mod_fee = base_fee
    if (base_fee != 0 or mod_fee != 0) and get_dust(tx, dust_relay_fee):
        raise ValidationError("dust", "tx with dust output must be 0-fee")


# -- input rules --------------------------------------------------------------------------------

def _script_sig_stack(script_sig: bytes) -> list[bytes]:
    """The stack a scriptSig leaves when run alone with no flags and no signature checker
    (Core: EvalScript(stack, scriptSig, SCRIPT_VERIFY_NONE, BaseSignatureChecker(), BASE))."""
    stack: list[bytes] = []
    eval_script(stack, script_sig, Flag.NONE, SignatureChecker())
    return stack


def check_inputs_standard(tx: Tx, coins: Sequence[Coin]) -> None:
    """Core's AreInputsStandard (ValidateInputsStandardness in later releases), with
    ``coins[i]`` the coin input ``i`` spends. Rejects ("bad-txns-nonstandard-inputs") spends of
    nonstandard scripts, of undefined witness versions (which later soft forks may give
    meaning), and of P2SH outputs whose redeem script counts more than MAX_P2SH_SIGOPS sigops
    (accurately counted), the redeem script being the top of the stack the scriptSig leaves.
    """
    if tx.is_coinbase():
        return  # coinbase inputs spend nothing
    for i, (txin, coin) in enumerate(zip(tx.vin, coins, strict=True)):
        kind, _ = solver(coin.script_pubkey)
        if kind is TxoutType.NONSTANDARD:
            raise ValidationError(_REJECT_NONSTANDARD_INPUTS, f"input {i} script unknown")
        if kind is TxoutType.WITNESS_UNKNOWN:
            raise ValidationError(_REJECT_NONSTANDARD_INPUTS,
                                  f"input {i} witness program is undefined")
        if kind is TxoutType.SCRIPTHASH:
            try:
                stack = _script_sig_stack(txin.script_sig)
            except ScriptError as e:
                raise ValidationError(
                    _REJECT_NONSTANDARD_INPUTS,
                    f"p2sh scriptsig malformed (input {i}: {script_error_string(e.err)})",
                ) from None
            if not stack:
                raise ValidationError(_REJECT_NONSTANDARD_INPUTS,
                                      f"input {i} P2SH redeemscript missing")
            sigops = script_sigop_count(stack[-1], True)
            if sigops > MAX_P2SH_SIGOPS:
                raise ValidationError(
                    _REJECT_NONSTANDARD_INPUTS,
                    f"p2sh redeemscript sigops exceed limit (input {i}: {sigops} > "
                    f"{MAX_P2SH_SIGOPS})")


def _witness_reject(i: int, why: str) -> ValidationError:
    # Core gives no debug string for this reason; these say which input and rule.
    return ValidationError(_REJECT_WITNESS, f"input {i}: {why}")


def check_witness_standard(tx: Tx, coins: Sequence[Coin]) -> None:
    """Core's IsWitnessStandard (v29) ("bad-witness-nonstandard"): a witness only where a
    witness program (native or P2SH-nested) is spent, none on a pay-to-anchor spend, P2WSH
    within MAX_STANDARD_P2WSH_SCRIPT_SIZE / _STACK_ITEMS / _STACK_ITEM_SIZE, and for taproot no
    annex and tapscript stack items within MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE. Inputs
    without a witness are not checked (they cannot be bloated)."""
    if tx.is_coinbase():
        return
    for i, (txin, coin) in enumerate(zip(tx.vin, coins, strict=True)):
        witness = txin.witness
        if not witness:
            continue
        script = coin.script_pubkey
        if script == PAY_TO_ANCHOR:
            raise _witness_reject(i, "witness stuffing on a pay-to-anchor spend")

        nested = False
        if is_p2sh(script):
            # The redeem script, extracted casually: push-only and the hash are checked later.
            try:
                stack = _script_sig_stack(txin.script_sig)
            except ScriptError as e:
                raise _witness_reject(i, f"P2SH scriptSig fails: {script_error_string(e.err)}"
                                      ) from None
            if not stack:
                raise _witness_reject(i, "P2SH redeem script missing")
            script = stack[-1]
            nested = True

        wp = witness_program(script)
        if wp is None:
            raise _witness_reject(i, "witness on a non-witness-program spend")
        version, program = wp

        if version == 0 and len(program) == WITNESS_V0_SCRIPTHASH_SIZE:
            if len(witness[-1]) > MAX_STANDARD_P2WSH_SCRIPT_SIZE:
                raise _witness_reject(i, f"witness script of {len(witness[-1])} bytes > "
                                         f"{MAX_STANDARD_P2WSH_SCRIPT_SIZE}")
            items = witness[:-1]
            if len(items) > MAX_STANDARD_P2WSH_STACK_ITEMS:
                raise _witness_reject(i, f"{len(items)} P2WSH stack items > "
                                         f"{MAX_STANDARD_P2WSH_STACK_ITEMS}")
            for item in items:
                if len(item) > MAX_STANDARD_P2WSH_STACK_ITEM_SIZE:
                    raise _witness_reject(i, f"P2WSH stack item of {len(item)} bytes > "
                                             f"{MAX_STANDARD_P2WSH_STACK_ITEM_SIZE}")

        if version == 1 and len(program) == WITNESS_V1_TAPROOT_SIZE and not nested:
            stack = list(witness)
            if len(stack) >= 2 and stack[-1] and stack[-1][0] == ANNEX_TAG:
                # Annexes are nonstandard as long as no semantics are defined for them.
                raise _witness_reject(i, "taproot annex")
            if len(stack) >= 2:  # script path: ... script control_block
                control = stack.pop()
                stack.pop()
                if not control:
                    raise _witness_reject(i, "empty taproot control block")
                if control[0] & TAPROOT_LEAF_MASK == TAPROOT_LEAF_TAPSCRIPT:
                    for item in stack:
                        if len(item) > MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE:
                            raise _witness_reject(
                                i, f"tapscript stack item of {len(item)} bytes > "
                                   f"{MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE}")
            # One element is a key path spend: no policy applies. (None is impossible here.)


__all__ = [
    "ANNEX_TAG", "DEFAULT_ACCEPT_DATACARRIER", "DEFAULT_ANCESTOR_LIMIT",
    "DEFAULT_ANCESTOR_SIZE_LIMIT_KVB", "DEFAULT_BYTES_PER_SIGOP", "DEFAULT_DESCENDANT_LIMIT",
    "DEFAULT_DESCENDANT_SIZE_LIMIT_KVB", "DEFAULT_INCREMENTAL_RELAY_FEE",
    "DEFAULT_MAX_MEMPOOL_SIZE_MB", "DEFAULT_MEMPOOL_EXPIRY_HOURS", "DEFAULT_MIN_RELAY_TX_FEE",
    "DEFAULT_PERMIT_BAREMULTISIG", "DUST_RELAY_TX_FEE", "MAX_BIP125_REPLACEMENT_CANDIDATES",
    "MAX_DUST_OUTPUTS_PER_TX", "MAX_OP_RETURN_RELAY", "MAX_P2SH_SIGOPS",
    "MAX_STANDARD_P2WSH_SCRIPT_SIZE", "MAX_STANDARD_P2WSH_STACK_ITEMS",
    "MAX_STANDARD_P2WSH_STACK_ITEM_SIZE", "MAX_STANDARD_SCRIPTSIG_SIZE",
    "MAX_STANDARD_TAPSCRIPT_STACK_ITEM_SIZE", "MAX_STANDARD_TX_SIGOPS_COST",
    "MAX_STANDARD_TX_WEIGHT", "MIN_STANDARD_TX_NONWITNESS_SIZE", "PAY_TO_ANCHOR",
    "TAPROOT_LEAF_MASK", "TAPROOT_LEAF_TAPSCRIPT", "TX_MAX_STANDARD_VERSION",
    "TX_MIN_STANDARD_VERSION", "TxoutType", "check_inputs_standard", "check_standard_tx",
    "check_tx_size_small", "check_witness_standard", "dust_threshold", "esplora_type_name",
    "fee_for", "get_dust", "is_dust", "is_standard_output", "is_unspendable",
    "pre_check_ephemeral_tx", "script_type_name", "solver", "virtual_size",
]
