"""Block assembly and proof of work: building coinbases and blocks, and solving them.

Owns the construction of new blocks; never validates them itself (mined blocks go through the
chain's validation like any other) and never touches storage.
"""
