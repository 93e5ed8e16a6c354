"""minicash wallet: HD keys, coin selection, signing, and a client of the Esplora-compatible API.

Imports ``node.consensus`` and nothing else from ``node``: it must work against any
Esplora-compatible server of the same network.
"""

__version__ = "0.1.0"
