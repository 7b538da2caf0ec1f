"""Sentence vectors: pooling token vectors, the sentence encoder and its saved layout, losses on sentence vectors."""
