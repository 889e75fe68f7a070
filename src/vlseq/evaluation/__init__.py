"""Scoring a model: every task's metric over generated predictions, the render-and-check scores of
generated images, and the diagnostics (image use, per-slot box accuracy, pointer maps)."""
