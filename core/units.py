"""Byte units, so sizes in limits and help texts are written one way."""

MIB = 1 << 20
