"""The chain state: block index, chain selection by most work, connecting and disconnecting
blocks against the UTXO set (with undo data), reorgs, orphan blocks, and notifications.

Owns every decision about which chain is active. Validation rules come from
``node.consensus``; persistence from ``node.storage``. Must not touch the network, the mempool
or the API: those subscribe to :class:`~node.chain.chainstate.ChainListener` callbacks.
"""
