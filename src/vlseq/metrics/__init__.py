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
detect             :func:`coco_map` (pycocotools COCOeval), :func:`label_errors` (class vs box errors)
segment            :func:`segmentation_iou` (mask mIoU / cIoU of polygons, pycocotools masks)
instance_segment   :func:`coco_mask_map` (COCOeval ``segm``)
keypoints          :func:`pck` (PCK@0.1 of the box size), :func:`match_objects`
paragraph          :func:`paragraph_scores` (CIDEr-D, METEOR 1.5, BLEU-1..4; METEOR needs Java)
multiple_choice    :func:`multiple_choice_accuracy` (VCR Q->A, QA->R, Q->AR),
                   :func:`chance_multiple_choice` (a uniform guess's expected accuracies)
story              :func:`paragraph_scores` (CIDEr-D, METEOR 1.5, BLEU-1..4 of the joined story)
dialog             :func:`ranking_metrics` (MRR, R@1/5/10, mean rank) over :func:`rank_of` ranks
=================  ==============================================================

:mod:`vlseq.metrics.identity` scores what an object is apart from where it is (detect labels given a
box hit, localize and VQA accuracy) per object-size bucket in grid cells, per class and question type.
"""

from .boxes import box_accuracy, box_area, box_iou, enclosing_box, localization_accuracy, rec_accuracy
from .caption import caption_scores, leave_one_out_cider
from .choice import chance_multiple_choice, multiple_choice_accuracy
from .classify import classification_accuracy
from .detection import box_hits, coco_map, label_errors
from .grounding import grounded_caption_f1, head_noun, phrase_grounding_recall
from .identity import (
    cells_covered,
    detection_identity,
    evidence_identity,
    localization_identity,
    size_bucket,
    vqa_identity,
)
from .keypoints import match_objects, pck
from .masks import coco_mask_map, mask_iou, polygon_mask, polygons_to_rle, segmentation_iou
from .meteor import MeteorError, MeteorScorer
from .paragraph import paragraph_scores
from .ptb_tokenizer import ptb_tokenize_python, tokenize_captions, tokenize_sentences
from .ranking import rank_of, ranking_metrics
from .vqa import normalize_answer, question_accuracy, vqa_accuracy

__all__ = [
    "MeteorError",
    "MeteorScorer",
    "box_accuracy",
    "box_area",
    "box_hits",
    "box_iou",
    "caption_scores",
    "cells_covered",
    "chance_multiple_choice",
    "classification_accuracy",
    "coco_map",
    "coco_mask_map",
    "detection_identity",
    "enclosing_box",
    "evidence_identity",
    "grounded_caption_f1",
    "head_noun",
    "label_errors",
    "leave_one_out_cider",
    "localization_accuracy",
    "localization_identity",
    "mask_iou",
    "match_objects",
    "multiple_choice_accuracy",
    "normalize_answer",
    "paragraph_scores",
    "pck",
    "phrase_grounding_recall",
    "polygon_mask",
    "polygons_to_rle",
    "ptb_tokenize_python",
    "question_accuracy",
    "rank_of",
    "ranking_metrics",
    "rec_accuracy",
    "segmentation_iou",
    "size_bucket",
    "tokenize_captions",
    "tokenize_sentences",
    "vqa_accuracy",
    "vqa_identity",
]
