"""From a trained model to parsed predictions: the grammar as a logits processor, constrained
generation in batches, and where each generated box sits in the row (for its score)."""
