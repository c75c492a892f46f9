"""Stores: where memories, vectors and history live. Every store satisfies :class:`Store`."""
