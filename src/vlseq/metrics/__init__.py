"""Standard metrics of every task: pure functions over predictions and ground truth.

No model and no torch here. Inputs are plain dicts/lists keyed by example id; boxes are pixel
``(x1, y1, x2, y2)``. Each function documents its protocol and raises ``ValueError`` on
mismatched inputs (e.g. a prediction id that is not in the references).

=================  ==============================================================
task               metric
=================  ==============================================================
caption            :func:`caption_scores` (CIDEr-D, BLEU-1..4), :func:`leave_one_out_cider`
vqa                :func:`vqa_accuracy` (VQAv2 protocol), :func:`normalize_answer`
classify           :func:`classification_accuracy`
refexp / localize  :func:`rec_accuracy`, :func:`localization_accuracy` (Acc@0.5)
ground             :func:`phrase_grounding_recall` (R@1/5/10, any-box and merged-box)
grounded_caption   :func:`grounded_caption_f1` (F1_all / F1_loc, GVD) + caption scores
detect             :func:`coco_map` (pycocotools COCOeval)
segment            :func:`segmentation_iou` (mask mIoU / cIoU of polygons, pycocotools masks)
instance_segment   :func:`coco_mask_map` (COCOeval ``segm``)
keypoints          :func:`pck` (PCK@0.1 of the box size), :func:`match_objects`
=================  ==============================================================
"""

from .boxes import box_accuracy, box_area, box_iou, enclosing_box, localization_accuracy, rec_accuracy
from .caption import caption_scores, leave_one_out_cider
from .classify import classification_accuracy
from .detection import coco_map
from .grounding import grounded_caption_f1, head_noun, phrase_grounding_recall
from .keypoints import match_objects, pck
from .masks import coco_mask_map, mask_iou, polygon_mask, polygons_to_rle, segmentation_iou
from .ptb_tokenizer import ptb_tokenize_python, tokenize_captions, tokenize_sentences
from .vqa import normalize_answer, question_accuracy, vqa_accuracy

__all__ = [
    "box_accuracy",
    "box_area",
    "box_iou",
    "caption_scores",
    "classification_accuracy",
    "coco_map",
    "coco_mask_map",
    "enclosing_box",
    "grounded_caption_f1",
    "head_noun",
    "leave_one_out_cider",
    "localization_accuracy",
    "mask_iou",
    "match_objects",
    "normalize_answer",
    "pck",
    "phrase_grounding_recall",
    "polygon_mask",
    "polygons_to_rle",
    "ptb_tokenize_python",
    "question_accuracy",
    "rec_accuracy",
    "segmentation_iou",
    "tokenize_captions",
    "tokenize_sentences",
    "vqa_accuracy",
]
