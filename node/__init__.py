"""minicash full node.

Packages by concern (see docs in each package's ``__init__``):
``consensus`` (pure rules, no I/O), ``storage``, ``chain``, ``mempool``, ``mining``, ``p2p``,
``api``; ``app`` wires services together and ``cli`` is the command-line front end.
"""

__version__ = "0.1.0"
