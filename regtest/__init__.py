"""``python -m regtest``: a local network of minicash nodes in one command.

Each node is a separate ``minicash-node run`` process with its own datadir, its own loopback
address (127.0.0.2, 127.0.0.3, ...: Linux routes all of 127.0.0.0/8 to the loopback device, so
every node can use the network's standard ports, and bans and partitions can tell the nodes
apart by address) and its own wallet. The network's description and the processes' pids live in
``<dir>/network.json``, so later commands (``status``, ``mine``, ``send``, ``partition``,
``down``) find a network that ``up`` started.

Modules: ``spec`` (what the network should be: nodes, links, roles; ``network.toml``),
``state`` (what is running, persisted), ``procs`` (starting and stopping node processes),
``control`` (talking to the nodes' APIs), ``wallets`` (driving ``minicash-wallet``), ``cli``.
"""
