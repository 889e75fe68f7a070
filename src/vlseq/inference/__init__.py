"""Running a checkpoint for a user: the :class:`~vlseq.inference.pipeline.Pipeline` and the web demo."""
