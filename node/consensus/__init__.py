"""Pure consensus code: serialization, primitives, hashes, script, keys, addresses, params.

Owns every rule that decides whether bytes form a valid Bitcoin object. Must not touch I/O,
asyncio, clocks, databases or global mutable state: every function here is a pure function of
its inputs (the crypto backend choice is the one process-wide setting).

It is also the one part of ``node`` the wallet may import, so the few pure policy helpers both
must share live here too (:mod:`.dust`, Core's GetDustThreshold), each marked as policy.
"""
