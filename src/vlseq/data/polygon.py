"""Douglas-Peucker simplification of closed polygons: by tolerance, or to a vertex budget.

Shared by the synthetic world (traced outlines, simplified at a pixel tolerance) and the
segmentation targets (any polygon cut to at most ``max_points`` vertices, so a target's length is
bounded). Points are ``(x, y)`` pixels; plain Python, no numpy needed.
"""

from __future__ import annotations

import heapq
import math
from typing import Sequence

PointLike = Sequence[float]


def perpendicular_distance(p: PointLike, a: PointLike, b: PointLike) -> float:
    """Distance from ``p`` to the line through ``a`` and ``b`` (to ``a`` when ``a == b``)."""
    (px, py), (ax, ay), (bx, by) = p, a, b
    vx, vy = bx - ax, by - ay
    n = math.hypot(vx, vy)
    if n == 0:
        return math.hypot(px - ax, py - ay)
    return abs(vx * (py - ay) - vy * (px - ax)) / n


def _farthest(pts: Sequence[PointLike], i: int, j: int) -> tuple[float, int]:
    """``(distance, index)`` of the point strictly between ``i`` and ``j`` farthest from chord ``i-j``;
    ``(0.0, -1)`` when there is none."""
    best, k = 0.0, -1
    for m in range(i + 1, j):
        d = perpendicular_distance(pts[m], pts[i], pts[j])
        if d > best:
            best, k = d, m
    return best, k


def douglas_peucker(pts: Sequence[tuple[float, float]], eps: float) -> list[tuple[float, float]]:
    """Open-chain simplification at tolerance ``eps``; keeps both end points."""
    if len(pts) < 3:
        return list(pts)
    keep = [False] * len(pts)
    keep[0] = keep[-1] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        i, j = stack.pop()
        best, k = _farthest(pts, i, j)
        if k >= 0 and best > eps:
            keep[k] = True
            stack += [(i, k), (k, j)]
    return [p for p, f in zip(pts, keep) if f]


def _split_point(pts: Sequence[tuple[float, float]]) -> int:
    """Index of the vertex farthest from vertex 0: the second anchor of a closed polygon."""
    x0, y0 = pts[0]
    return max(range(len(pts)), key=lambda i: (pts[i][0] - x0) ** 2 + (pts[i][1] - y0) ** 2)


def simplify_closed(points: Sequence[PointLike], eps: float) -> list[tuple[float, float]]:
    """Douglas-Peucker on a closed polygon: split at the vertex farthest from the first one."""
    pts = [(float(x), float(y)) for x, y in points]
    if len(pts) <= 4:
        return pts
    far = _split_point(pts)
    a = douglas_peucker(pts[: far + 1], eps)
    b = douglas_peucker(pts[far:] + [pts[0]], eps)
    out = a[:-1] + b[:-1]
    return out if len(out) >= 3 else pts


def simplify_to_budget(points: Sequence[PointLike], max_points: int, eps: float = 0.0) -> list[tuple[float, float]]:
    """A closed polygon cut to at most ``max_points`` vertices, in the original vertex order.

    Douglas-Peucker refined top-down with a budget: start from the two anchors of
    :func:`simplify_closed` (vertex 0 and the vertex farthest from it), then repeatedly insert the
    vertex farthest from its current chord, largest deviation first, while it deviates by more than
    ``eps`` pixels and the budget lasts. ``eps=0`` drops exactly collinear vertices only, so a
    polygon already within budget keeps its shape exactly. At least 3 vertices are returned when
    the input has 3 (a degenerate, collinear input keeps 3 of its points).
    """
    if max_points < 3:
        raise ValueError(f"max_points must be >= 3 (a polygon needs 3 vertices), got {max_points}")
    pts = [(float(x), float(y)) for x, y in points]
    if len(pts) <= 3:
        return pts
    far = _split_point(pts)
    ring = pts + [pts[0]]  # index len(pts) is vertex 0 again: the second chain ends where the first began
    keep = {0, far}
    heap: list[tuple[float, int, int, int]] = []

    def push(i: int, j: int) -> None:
        d, k = _farthest(ring, i, j)
        if k >= 0:
            heapq.heappush(heap, (-d, k, i, j))  # ties: the lower index first, deterministic

    push(0, far)
    push(far, len(pts))
    while heap and len(keep) < max_points:
        neg_d, k, i, j = heapq.heappop(heap)
        if -neg_d <= eps:
            break
        keep.add(k)
        push(i, k)
        push(k, j)
    if len(keep) < 3:  # every vertex on one line: keep a third so the result is still a polygon
        keep.add(far // 2 if far > 1 else (far + len(pts)) // 2)
    return [pts[i] for i in sorted(keep)]
