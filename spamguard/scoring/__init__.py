"""Scoring: shared features (`features`), the served model (`model`) and verdict rules (`decision`)."""
