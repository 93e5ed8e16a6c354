"""A process that mines regtest blocks with spends into a datadir until it is killed.

Run as ``python -m tests.chain.crash_worker DATADIR``; prints ``height N`` after every block.
The UTXO cache is flushed every few blocks, so kills land before, during and after flushes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from node.chain.chainstate import ChainState
from node.consensus.params import REGTEST
from node.consensus.primitives import OutPoint, TxOut

from .builder import BlockMaker


def main(datadir: Path) -> None:
    maker = BlockMaker()
    with ChainState(REGTEST, datadir, flush_interval_blocks=3) as chain:
        maker.extra = chain.height * 1000  # distinct coinbases across restarts
        while True:
            txs = []
            if chain.height >= 101:
                # Spend the coinbase of 100 blocks ago into two outputs.
                source = chain.read_block(chain.active[chain.height - 100])
                cb = source.txs[0]
                if chain.get_coin(OutPoint(cb.txid, 0)) is not None:
                    value = cb.vout[0].value
                    txs.append(maker.wallet.spend(
                        [(OutPoint(cb.txid, 0), value)],
                        [TxOut(value // 2, maker.wallet.script_pubkey),
                         TxOut(value // 2 - 300, maker.wallet.script_pubkey)]))
            chain.process_block(maker.block(chain.tip, txs, fees=300 * len(txs)))
            print(f"height {chain.height}", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
