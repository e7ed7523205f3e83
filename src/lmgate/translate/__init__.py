"""Pure translation between the canonical form (OpenAI chat shapes) and other wire protocols.

No I/O and no logging here: wire in, wire out. Invalid input raises `lmgate.errors.BadRequest`.
"""
