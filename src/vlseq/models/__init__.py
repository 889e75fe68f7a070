"""Models: the vision tower + encoder-decoder, the grammar's logits processor, checkpoint I/O."""

from .config import ModelConfig, VisionConfig
from .grammar_processor import GrammarLogitsProcessor
from .io import from_pretrained, save_pretrained
from .vlseq_model import VLSeqModel

__all__ = ["ModelConfig", "VisionConfig", "GrammarLogitsProcessor", "VLSeqModel", "from_pretrained", "save_pretrained"]
