"""Pointwise ops of two tensors beyond the arithmetic ones (atan2, lerp, clamp with tensor
bounds, fmod, remainder, floor_divide, pow with a tensor exponent), and scans along a dim."""
__all__ = []
