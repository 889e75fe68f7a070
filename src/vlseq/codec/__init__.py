"""The sequence contract: coordinates <-> bins, markup build/parse, decoding grammars.

Plain Python (numpy at most): no torch, no model. The format is drawn in docs/architecture.md.
"""

from .coords import (
    Box,
    Point,
    box_frame,
    dequantize,
    dequantize_box,
    dequantize_in_frame,
    dequantize_point,
    dequantize_polygon,
    quantize,
    quantize_box,
    quantize_in_frame,
    quantize_point,
    quantize_polygon,
)
from .grammar import (
    ChoiceGrammar,
    Grammar,
    GrammarError,
    GroundedTextGrammar,
    ObjectListGrammar,
    SingleBoxGrammar,
    TextGrammar,
    TokenTrie,
    VocabLayout,
)
from .markup import GroundedText, Phrase, box_tokens, build, object_frame, object_list, polygon_tokens, validate
from .parser import Parsed, parse
from .tokens import LOC_OFFSET, img_token, loc_token, special_tokens

__all__ = [
    "Box", "Point", "quantize", "dequantize", "quantize_box", "dequantize_box", "quantize_point",
    "dequantize_point", "quantize_polygon", "dequantize_polygon", "box_frame", "quantize_in_frame",
    "dequantize_in_frame", "object_frame", "GroundedText", "Parsed", "Phrase",
    "build", "parse", "validate", "object_list", "box_tokens", "polygon_tokens", "LOC_OFFSET",
    "loc_token", "img_token", "special_tokens", "VocabLayout", "Grammar", "GrammarError", "TextGrammar",
    "GroundedTextGrammar", "ObjectListGrammar", "SingleBoxGrammar", "ChoiceGrammar", "TokenTrie",
]
