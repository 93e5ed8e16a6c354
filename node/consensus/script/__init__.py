"""Bitcoin Script: opcodes, numbers, the interpreter, signature hashes, sigop counting and
standard script templates. Pure functions of their inputs; signature checks go through
``node.consensus.crypto``.
"""
