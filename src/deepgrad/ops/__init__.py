"""Primitive ops: the only code in deepgrad that knows derivatives.

Each op is a `Function` subclass with ``forward`` (on arrays) and ``backward`` (upstream ``grad``
times the local derivative) side by side; see ``deepgrad.autograd.function`` for the conventions.
Everything else in deepgrad is composed from these and gets its gradient from them.
"""
