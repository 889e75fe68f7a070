"""The output head with a pointer into the image: coordinate logits that look at the image grid.

A coordinate token names a position in the image, and the encoder already holds one vector per
image cell. With the plain tied head, the decoder must first carry an object's position through
cross-attention into its hidden state and then map that state onto the right ``<loc_k>`` row: two
things learned at once, and neither pays off before the other exists. The pointer makes "which
cell" one attention lookup (the idea of Kosmos-2's patch-index tokens and GiT's grid references,
kept inside the ordinary ``<loc_k>`` vocabulary so the sequence format does not change):

::

    h (B, T, d) --q--> attention over the image cells (B, T, I, gh, gw) <--k-- memory (B, I*gh*gw, d)
                       |-- sum over rows --> p_col (B, T, gw)      gate g = sigmoid(w . h)  (x or y?)
                       |-- sum over cols --> p_row (B, T, gh)
    pointer(k) = log( g * gw * p_col[col(k)] + (1 - g) * gh * p_row[row(k)] )      k = 0..B-1
    logits[..., <loc_k>] = h . W[<loc_k>] + pointer(k)

``col(k)``/``row(k)`` is the cell column/row that bin ``k``'s centre falls in. The token head keeps
the position within the cell. With ``offsets`` (DETR-style reference point + offset), each cell
also spreads its share over the bins inside it: a distribution over the ``B / gw`` bins of its
column (and ``B / gh`` of its row) from that cell's own features plus the decoder state, since
a cell's conv features know where in the cell an edge lies; then the pointer is a distribution
over bins, not only over cells. Its offset layers start at zero: uniform within each cell.

With uniform attention the pointer term is 0, so the head starts as the plain tied head. The same ``<loc_k>`` serves x and y; the gate (from the decoder state, which
knows the slot it is writing) picks the axis. The model still never sees a task name.

With ``only_coords`` the pointer runs only where a coordinate is written: in training at the
coordinate targets, in inference where the token head gives the coordinate tokens at least half
its mass. Elsewhere its term is 0, so it costs nothing at the words of a caption or an answer.

The encoder's image outputs are handed to the head with :meth:`PointerHead.attach` for the length
of one forward pass or one ``generate()`` call (the head is called by transformers' BART, whose
signature has no room for them).
"""

from __future__ import annotations

import contextlib
import math
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn


def bin_cells(num_bins: int, cells: int) -> torch.Tensor:
    """(num_bins,) long: the grid cell (0..cells-1) that each coordinate bin's centre falls in."""
    centre = (torch.arange(num_bins, dtype=torch.float64) + 0.5) / num_bins
    return (centre * cells).floor().long().clamp(0, cells - 1)


class PointerHead(nn.Module):
    """Tied token logits plus a pointer term on the coordinate tokens.

    Args:
        d_model: decoder width. vocab_size: rows of the tied weight (set by ``tie_weights``).
        grid: the image grid ``(gh, gw)``. loc_offset: id of ``<loc_0>``; num_bins: coordinate tokens.
        offsets: also a bin within the cell. only_coords: the pointer term only at the positions
            that write a coordinate (given by :meth:`attach`, else :meth:`coordinate_positions`).
        gate: the term times ``sigmoid(w . h + 4)``, read from the decoder state ``h``. A polygon
            vertex or keypoint is written in its box's frame: its bin names a place in the box,
            not in the image, and the pointer's cells say nothing of it. The gate lets the
            decoder, which knows it is inside ``<poly>`` or after a keypoint's name, turn the
            pointer off there; it starts near 1, the ungated head.
    """

    def __init__(self, d_model: int, vocab_size: int, grid: tuple[int, int], loc_offset: int, num_bins: int,
                 init_std: float, offsets: bool = False, only_coords: bool = False, gate: bool = False) -> None:
        super().__init__()
        if loc_offset < 0:
            raise ValueError("model.loc_pointer needs the coordinate token ids (ModelConfig.fill_from_tokenizer)")
        if offsets and (num_bins % grid[0] or num_bins % grid[1]):
            raise ValueError(f"model.loc_pointer='cell_offset' needs num_bins ({num_bins}) divisible by the image grid {grid}")
        self.offsets = offsets
        #: the pointer only where a coordinate is written (see :meth:`forward`), not at every position
        self.only_coords = only_coords
        if offsets:
            per = (num_bins // grid[1], num_bins // grid[0])  # bins per cell along x, along y
            self.off_mem = nn.Linear(d_model, per[0] + per[1])
            self.off_dec = nn.Linear(d_model, per[0] + per[1], bias=False)
            nn.init.zeros_(self.off_mem.weight)
            nn.init.zeros_(self.off_mem.bias)
            nn.init.zeros_(self.off_dec.weight)
        # the tied output embedding; transformers' tie_weights() replaces it with the shared one
        self.weight = nn.Parameter(torch.randn(vocab_size, d_model) * init_std)
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.axis = nn.Linear(d_model, 1)
        for lin in (self.query, self.key, self.axis):
            nn.init.normal_(lin.weight, std=init_std)
            nn.init.zeros_(lin.bias)
        self.gate: nn.Linear | None = None
        if gate:
            self.gate = nn.Linear(d_model, 1)
            nn.init.zeros_(self.gate.weight)
            nn.init.constant_(self.gate.bias, 4.0)
        self.grid = grid
        self.loc_offset, self.num_bins = loc_offset, num_bins
        self.register_buffer("row_of_bin", bin_cells(num_bins, grid[0]), persistent=False)
        self.register_buffer("col_of_bin", bin_cells(num_bins, grid[1]), persistent=False)
        self._memory: tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None] | None = None
        #: the cells' keys and offset terms of the attached memory, computed at its first use: a
        #: decode step would otherwise project all the cells again for every token
        self._memory_terms: tuple[torch.Tensor, torch.Tensor | None] | None = None
        #: set ``record`` to keep the last call's attention over the cells, (B, T, I*gh*gw), in ``last_attention``
        self.record = False
        self.last_attention: torch.Tensor | None = None

    @contextlib.contextmanager
    def attach(self, memory: torch.Tensor, valid: torch.Tensor | None = None,
               where: torch.Tensor | None = None) -> Iterator[None]:
        """Point at ``memory`` (B, I*gh*gw, d), the encoder's outputs at the image tokens, inside the
        block; ``valid`` (B, I*gh*gw) bool is False at the cells of padding images. ``where`` (B, T)
        bool, with ``only_coords``, names the decoder positions that write a coordinate (teacher
        forcing knows them); without it the head finds them itself (:meth:`coordinate_positions`)."""
        self._memory = (memory, valid, where)
        try:
            yield
        finally:
            self._memory = None
            self._memory_terms = None

    def coordinate_positions(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, T, V) plain logits -> (B, T) bool: the positions where the token head puts at least
        half its probability on the coordinate tokens as a whole.

        The head says that a coordinate comes next and the pointer says which one. Where the
        pointer is trained only at coordinate targets, this is the same choice made at inference.
        """
        lo, n = self.loc_offset, self.num_bins
        loc_share = torch.logsumexp(logits[..., lo:lo + n], dim=-1) - torch.logsumexp(logits, dim=-1)  # log P(coordinate)
        return loc_share >= -math.log(2.0)

    def pointer_logits(self, h: torch.Tensor, memory: torch.Tensor, valid: torch.Tensor | None = None,
                       where: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, d) decoder states -> the pointer term (0 under uniform attention): (B, T, num_bins)
        at every position, or (M, num_bins) at the M positions where ``where`` (B, T) is True.

        With ``where`` only the chosen positions pay for the attention's softmax and the offsets,
        the costly (positions, cells, bins-per-cell) part; the query-key scores of all positions
        are one cheap bmm.
        """
        b = h.shape[0]
        attached = self._memory is not None and memory is self._memory[0]
        if attached and self._memory_terms is not None:
            k, off_mem = self._memory_terms
        else:
            k = self.key(memory)  # (B0, N, d)
            off_mem = self.off_mem(memory) if self.offsets else None  # (B0, N, px + py)
            if attached:
                self._memory_terms = (k, off_mem)
        if k.shape[0] != b:  # beam search / several return sequences expand rows in place
            r = b // k.shape[0]
            k = k.repeat_interleave(r, dim=0)
            off_mem = None if off_mem is None else off_mem.repeat_interleave(r, dim=0)
            valid = None if valid is None else valid.repeat_interleave(r, dim=0)
        q = self.query(h)  # (B, T, d)
        scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])  # (B, T, N)
        if valid is not None:
            scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
        if where is not None:
            rows, cols = where.nonzero(as_tuple=True)
            h, scores = h[rows, cols], scores[rows, cols]  # (M, d), (M, N)
            off_mem = None if off_mem is None else off_mem[rows]  # (M, N, px + py)
        att = torch.softmax(scores, dim=-1)  # (..., N) with ... = (B, T) or (M,)
        if self.record:
            self.last_attention = att.detach()
        term = self._bins(att, torch.sigmoid(self.axis(h)), off_mem, h)
        return term if self.gate is None else torch.sigmoid(self.gate(h)) * term

    def _bins(self, att: torch.Tensor, g: torch.Tensor, off_mem: torch.Tensor | None, h: torch.Tensor) -> torch.Tensor:
        """Attention over the cells (..., N) and the x-gate (..., 1) -> log pointer term (..., num_bins).

        ``...`` is ``(B, T)``, or ``(M,)`` for chosen positions. The offsets come from ``off_mem``,
        the cells' own terms, (B, N, px + py) for ``(B, T)`` or (M, N, px + py) for ``(M,)``, plus
        the states ``h`` (..., d)."""
        gh, gw = self.grid
        if off_mem is None:
            att = att.view(*att.shape[:-1], -1, gh, gw)  # (..., I, gh, gw)
            p_row, p_col = att.sum(dim=(-3, -1)), att.sum(dim=(-3, -2))  # (..., gh), (..., gw)
            p = g * gw * p_col[..., self.col_of_bin] + (1 - g) * gh * p_row[..., self.row_of_bin]
            return torch.log(p.clamp(min=1e-6))
        lead = att.shape[:-1]
        px_n = self.num_bins // gw
        if att.dim() == 3 and att.shape[1] > 1:  # (B, T, N), several positions per row: factored
            off_dec = self.off_dec(h)  # (B, T, px + py)
            wx = self._offset_mix(att, off_mem[..., :px_n], off_dec[..., :px_n], gh, gw, rows=False)  # (B, T, gw * px)
            wy = self._offset_mix(att, off_mem[..., px_n:], off_dec[..., px_n:], gh, gw, rows=True)  # (B, T, gh * py)
        else:
            # one position per row (a decode step, or the (M, N) rows of chosen positions): the
            # softmax per (position, cell) is written out; it is no larger than the cells' own
            # terms, and a few large ops beat the factored form's many small ones here
            if att.dim() == 3:
                off_mem = off_mem[:, None]  # (B, 1, N, px + py)
            off = off_mem + self.off_dec(h)[..., None, :]  # (..., N, px + py)
            ox, oy = torch.softmax(off[..., :px_n], -1), torch.softmax(off[..., px_n:], -1)
            wx = (att[..., None] * ox).view(*lead, -1, gh, gw, px_n).sum(dim=(-4, -3)).flatten(-2)  # (..., gw * px)
            wy = (att[..., None] * oy).view(*lead, -1, gh, gw, oy.shape[-1]).sum(dim=(-4, -2)).flatten(-2)  # (..., gh * py)
        # bins in order: column j holds bins j*px .. (j+1)*px - 1
        p = g * wx + (1 - g) * wy
        return torch.log((p * self.num_bins).clamp(min=1e-6))

    @staticmethod
    def _offset_mix(att: torch.Tensor, cell: torch.Tensor, pos: torch.Tensor, gh: int, gw: int, rows: bool) -> torch.Tensor:
        """sum over cells n of att[b, t, n] * softmax_p(cell[b, n, p] + pos[b, t, p]), collected
        per grid column (``rows=False``) or row: (B, T, N), (B, N, P), (B, T, P) -> (B, T, g * P).

        Written out, the softmax term is a (B, T, N, P) tensor, the largest of the head (at 1,008
        bins, 32 targets and an 8x8 grid it was a quarter of a ``tiny`` training step). It factors:
        softmax(a + b)_p = e^a_p e^b_p / Z with Z[b, t, n] = sum_p e^a_p e^b_p, so Z is one matmul and the
        sum over the cells of a grid column is another, with nothing of size N x P per position.
        Each factor is taken relative to its maximum (the softmax does not change) and worked in
        float64, so Z cannot underflow before the cell's and the position's logits disagree by
        about 700 (in float32 a disagreement of 87 would make Z zero); the tensors are of size
        N or P per position, so the wider type costs little. The result comes back in ``att``'s type.
        """
        b, n, p = cell.shape
        t = att.shape[1]
        dtype = att.dtype
        cell, pos, att = cell.double(), pos.double(), att.double()
        ea = torch.exp(cell - cell.amax(-1, keepdim=True))  # (B, N, P)
        eb = torch.exp(pos - pos.amax(-1, keepdim=True))  # (B, T, P)
        w = att / (eb @ ea.transpose(1, 2)).clamp(min=1e-300)  # (B, T, N): each cell's attention over its Z
        # cells are (image, row, column); collect over every cell of one column (or one row)
        if rows:
            w = w.view(b, t, -1, gh, gw).permute(0, 3, 1, 2, 4).reshape(b * gh, t, -1)  # (B*gh, T, I*gw)
            ea = ea.view(b, -1, gh, gw, p).permute(0, 2, 1, 3, 4).reshape(b * gh, -1, p)  # (B*gh, I*gw, P)
            k = gh
        else:
            w = w.view(b, t, -1, gw).permute(0, 3, 1, 2).reshape(b * gw, t, -1)  # (B*gw, T, I*gh)
            ea = ea.view(b, -1, gw, p).permute(0, 2, 1, 3).reshape(b * gw, -1, p)  # (B*gw, I*gh, P)
            k = gw
        mixed = torch.bmm(w, ea).view(b, k, t, p).permute(0, 2, 1, 3)  # (B, T, k, P)
        return (mixed * eb[:, :, None, :]).reshape(b, t, k * p).to(dtype)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (B, T, V) logits."""
        logits = F.linear(h, self.weight)
        if self._memory is None:
            return logits
        memory, valid, where = self._memory
        lo, n = self.loc_offset, self.num_bins
        loc = logits[..., lo:lo + n]
        if self.only_coords and where is None:
            where = self.coordinate_positions(logits.detach())
        if not self.only_coords:
            loc = loc + self.pointer_logits(h, memory, valid).to(loc.dtype)
        elif self.record:  # the attention maps of diagnostics cover every position; the logits do not change
            loc = torch.where(where[..., None], loc + self.pointer_logits(h, memory, valid).to(loc.dtype), loc)
        else:
            rows, cols = where.nonzero(as_tuple=True)
            if len(rows):
                ptr = self.pointer_logits(h, memory, valid, where)
                loc = loc.index_put((rows, cols), loc[rows, cols] + ptr.to(loc.dtype))
        return torch.cat([logits[..., :lo], loc, logits[..., lo + n:]], dim=-1)
