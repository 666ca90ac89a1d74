"""Indexing with int tensors (gather, scatter_add, index_select, index_add, embedding) and
einsum."""
__all__ = []
