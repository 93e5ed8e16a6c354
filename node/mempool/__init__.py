"""The memory pool: unconfirmed transactions, Bitcoin Core's acceptance policy, replacement,
package limits, eviction, and fee estimation.

Reads the chain only through a narrow view (coins, tip, median times) and follows it as a
chain listener; never writes chain state, never touches the network.
"""
