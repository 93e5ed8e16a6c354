"""The HTTP API (aiohttp): Bitcoin Core's REST paths (``/rest``), an Esplora-compatible API for
wallets (``/api``), node administration (``/node``), as described in shared/design/API.md, and
the block explorer's pages at ``/`` (:mod:`node.api.explorer`, itself a client of ``/api``).

Reads the chain, mempool, fee estimator and indexes through :class:`ApiContext`; every state
change goes through the services' own methods (mempool acceptance, ``process_block``,
``generate``), never around them.
"""
