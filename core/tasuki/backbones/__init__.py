"""Embedded offline backbones: where their files come from and how they are prepared."""
