"""Outline of a pixel mask as a polygon along pixel edges, and its simplification.

The traced polygon runs along pixel boundaries (corner coordinates: pixel ``(row r, col c)`` is
the square ``[c, c+1] x [r, r+1]``), so its shoelace area equals the pixel count exactly when the
mask is one 4-connected piece without holes; the scene uses that equality as its one-piece test.
"""

from __future__ import annotations

import numpy as np

from ..polygon import simplify_closed  # noqa: F401  (re-exported: the simplifier lives in data/polygon.py)


def trace_outline(mask: np.ndarray) -> list[tuple[int, int]]:
    """Corner points ``(x, y)`` of the outer boundary of the first (raster order) 4-connected piece.

    ``mask``: ``(h, w)`` bool. Walks the boundary clockwise on screen (y down) with the region on
    the right-hand side; a vertex is kept only where the direction changes. Empty mask -> ``[]``.
    """
    h, w = mask.shape
    padded = np.zeros((h + 2, w + 2), dtype=bool)
    padded[1:-1, 1:-1] = mask
    grid = padded.tolist()  # plain lists: per-pixel lookups in Python are much faster than numpy's
    flat = np.flatnonzero(padded)
    if flat.size == 0:
        return []
    r0, c0 = divmod(int(flat[0]), w + 2)
    # corner coordinates in the padded frame; pixel (r, c) of `padded` spans [c, c+1] x [r, r+1]
    x, y, dx, dy = c0, r0, 1, 0
    start = (x, y, dx, dy)
    points: list[tuple[int, int]] = []
    while True:
        x += dx
        y += dy
        rx, ry = -dy, dx  # the right-hand direction (y down)
        # pixels just ahead of the corner, on the right and on the left of the walk
        ar = grid[y + (dy + ry - 1) // 2][x + (dx + rx - 1) // 2]
        al = grid[y + (dy - ry - 1) // 2][x + (dx - rx - 1) // 2]
        if ar and al:
            ndx, ndy = dy, -dx  # turn left
        elif ar:
            ndx, ndy = dx, dy  # straight on
        else:
            ndx, ndy = -dy, dx  # turn right (also at a diagonal pinch: 4-connectivity)
        if (ndx, ndy) != (dx, dy):
            points.append((x - 1, y - 1))
        dx, dy = ndx, ndy
        if (x, y, dx, dy) == start:
            break
    return points
