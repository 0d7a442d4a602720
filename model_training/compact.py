"""The feature union's TF-IDF matrix in ~5 bytes per nonzero, with the products a primal solver needs.

A TF-IDF entry of :func:`spamguard.scoring.transformers.make_features` (``sublinear_tf``, l2 rows)
is ``(1 + ln tf) * idf[j] / norm[i]``, with a row norm per TF-IDF block.  So per nonzero only its
int32 column is stored; all entries read as 1 through one shared array of ones, and the ones with
``tf > 1`` (measured: ~16 %) are repeated in a small "extra" matrix holding ``ln tf`` (stored as the
uint16 tf, read through a table of logarithms).  Then, per block,
``X @ v = (P @ (idf*v) + E @ (idf*v)) / norm`` and ``X.T @ r = idf * (P.T @ (r/norm) + E.T @ (r/norm))``.
float64 CSR needs 12 bytes per nonzero, liblinear another 16 for its copy: at 1 M comments (360 M
nonzeros) ~10 GB, against ~5 bytes here.

The rows are kept in chunks (the feature stage's chunks): the products call scipy's compiled
sparse kernels chunk by chunk on the stored arrays (no copy of the matrix; only the extra entries'
ln tf is gathered from the table per product), and those kernels release the GIL, so ``threads`` threads split the chunks.  The narrow metadata block stays a
float64 CSR per chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse import _sparsetools

_ONES = np.ones(0)
_LOG_TF = np.log(np.maximum(np.arange(1 << 16), 1).astype(np.float64))  # ln tf for every uint16 tf


def _ones(n: int) -> np.ndarray:
    """A read-only view of n ones, one array shared by every chunk (the stored nonzeros' common value)."""
    global _ONES
    if len(_ONES) < n:
        _ONES = np.ones(n)
        _ONES.flags.writeable = False
    return _ONES[:n]


@dataclass
class _Pattern:
    """A chunk's CSR structure without values; ``data`` gives them (ones, or an extra matrix's ln tf)."""

    indptr: np.ndarray
    indices: np.ndarray
    n_rows: int
    n_cols: int

    def matvec(self, data: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
        """out += A @ v"""
        _sparsetools.csr_matvec(self.n_rows, self.n_cols, self.indptr, self.indices, data, v, out)

    def rmatvec(self, data: np.ndarray, r: np.ndarray, out: np.ndarray) -> None:
        """out += A.T @ r (the CSR arrays read as the transpose's CSC)"""
        _sparsetools.csc_matvec(self.n_cols, self.n_rows, self.indptr, self.indices, data, r, out)


@dataclass
class TextChunk:
    """One TF-IDF block's rows of one chunk."""

    pattern: _Pattern  # every nonzero, value 1
    extra: _Pattern  # the nonzeros with tf > 1 again, value ln tf (extra_values)
    extra_data: np.ndarray  # their tf as uint16 (ln tf read from a table), or ln tf if a tf is larger
    inv_norm: np.ndarray  # 1 / the row's l2 norm (0 for an empty row, as sklearn leaves it)

    @classmethod
    def from_counts(cls, counts: sp.csr_matrix, idf: np.ndarray) -> TextChunk:
        """From a chunk's term counts (the matrix TfidfTransformer turns into TF-IDF rows)."""
        n, width = counts.shape
        tf = counts.data
        indices = counts.indices.astype(np.int32, copy=False)
        indptr = counts.indptr.astype(np.int32)  # a chunk holds < 2**31 nonzeros
        # In place where possible: these temporaries (~8 bytes a nonzero each) set the feature stage's peak.
        row = np.repeat(np.arange(n, dtype=np.int32), np.diff(indptr))
        more = tf > 1
        extra_indptr = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.bincount(row[more], minlength=n), out=extra_indptr[1:])
        extra = _Pattern(extra_indptr, indices[more], n, width)
        value = np.log(tf)
        extra_data = tf[more].astype(np.uint16) if tf.max(initial=0) < len(_LOG_TF) else value[more]
        del more
        value += 1.0
        value *= idf[indices]
        value *= value
        norm = np.sqrt(np.bincount(row, weights=value, minlength=n))
        del row, value
        inv_norm = np.divide(1.0, norm, out=np.zeros(n), where=norm > 0)
        return cls(_Pattern(indptr, indices, n, width), extra, extra_data, inv_norm)

    def extra_values(self) -> np.ndarray:
        """ln tf of the extra entries (float64; from the table: 2 bytes stored instead of 8, same values)."""
        return _LOG_TF[self.extra_data] if self.extra_data.dtype == np.uint16 else self.extra_data

    @property
    def nbytes(self) -> int:
        p, e = self.pattern, self.extra
        return p.indptr.nbytes + p.indices.nbytes + e.indptr.nbytes + e.indices.nbytes + self.extra_data.nbytes

    def values(self, idf: np.ndarray) -> sp.csr_matrix:
        """The chunk's TF-IDF rows as float64 CSR (for tests and small slices)."""
        p, e = self.pattern, self.extra
        ones = sp.csr_matrix((np.ones(len(p.indices)), p.indices, p.indptr), shape=(p.n_rows, p.n_cols))
        logs = sp.csr_matrix((self.extra_values(), e.indices, e.indptr), shape=(p.n_rows, p.n_cols))
        return sp.csr_matrix(sp.diags(self.inv_norm) @ (ones + logs) @ sp.diags(idf))


@dataclass
class Chunk:
    start: int
    n_rows: int
    text: list[TextChunk]  # one per TF-IDF block, in column order
    meta: sp.csr_matrix | None  # the union's last block, if any


class CompactMatrix:
    """The union's rows: TF-IDF blocks (column offsets, idf), then an optional metadata block."""

    def __init__(
        self,
        chunks: Sequence[Chunk],
        offsets: Sequence[int],
        idf: Sequence[np.ndarray],
        meta_width: int,
        threads: int = 1,
    ):
        self.chunks = list(chunks)
        self.offsets = list(offsets)
        self.idf = list(idf)
        self.meta_offset = offsets[-1] + len(idf[-1]) if idf else 0
        self.shape = (sum(c.n_rows for c in self.chunks), self.meta_offset + meta_width)
        self.threads = threads

    @property
    def nnz(self) -> int:
        return sum(len(t.pattern.indices) for c in self.chunks for t in c.text) + sum(
            c.meta.nnz for c in self.chunks if c.meta is not None
        )

    @property
    def nbytes(self) -> int:
        meta = sum(
            c.meta.data.nbytes + c.meta.indices.nbytes + c.meta.indptr.nbytes for c in self.chunks if c.meta is not None
        )
        return sum(t.nbytes + t.inv_norm.nbytes for c in self.chunks for t in c.text) + meta

    def _blocks(self, v: np.ndarray) -> list[np.ndarray]:
        return [idf * v[o : o + len(idf)] for o, idf in zip(self.offsets, self.idf)]

    def _map(self, work: Callable[[int, list[Chunk]], None], n: int) -> None:
        """work(i, every n-th chunk from the i-th) for i < n, in n threads."""
        if n <= 1:
            work(0, self.chunks)
            return
        with ThreadPoolExecutor(n) as pool:
            for f in [pool.submit(work, i, self.chunks[i::n]) for i in range(n)]:
                f.result()

    def matvec(self, v: np.ndarray) -> np.ndarray:
        """X @ v"""
        scaled = self._blocks(v)
        meta_v = v[self.meta_offset :]
        out = np.zeros(self.shape[0])

        def work(_: int, chunks: list[Chunk]) -> None:
            for c in chunks:
                z = out[c.start : c.start + c.n_rows]
                for t, u in zip(c.text, scaled):
                    acc = np.zeros(c.n_rows)
                    t.pattern.matvec(_ones(len(t.pattern.indices)), u, acc)
                    t.extra.matvec(t.extra_values(), u, acc)
                    acc *= t.inv_norm
                    z += acc
                if c.meta is not None:
                    z += c.meta @ meta_v

        self._map(work, min(self.threads, len(self.chunks)))
        return out

    def rmatvec(self, r: np.ndarray) -> np.ndarray:
        """X.T @ r"""

        def work(chunks: list[Chunk], out: np.ndarray) -> None:
            for c in chunks:
                rc = r[c.start : c.start + c.n_rows]
                for t, o, idf in zip(c.text, self.offsets, self.idf):
                    s = rc * t.inv_norm
                    block = out[o : o + len(idf)]
                    t.pattern.rmatvec(_ones(len(t.pattern.indices)), s, block)
                    t.extra.rmatvec(t.extra_values(), s, block)
                if c.meta is not None:
                    out[self.meta_offset :] += c.meta.T @ rc

        return self._reduce(work)

    def _reduce(self, work: Callable[[list[Chunk], np.ndarray], None]) -> np.ndarray:
        """Each thread's ``work`` adds its chunks' column sums to its own vector; their sum (in thread
        order: deterministic), times the idf."""
        partial = [np.zeros(self.shape[1]) for _ in range(max(1, min(self.threads, len(self.chunks))))]
        self._map(lambda i, chunks: work(chunks, partial[i]), len(partial))
        out = partial[0]
        for p in partial[1:]:
            out += p
        for o, idf in zip(self.offsets, self.idf):
            out[o : o + len(idf)] *= idf
        return out

    def gram_vec(self, v: np.ndarray, d: np.ndarray) -> np.ndarray:
        """X.T @ (d * (X @ v)), a Newton step's Hessian product.

        Two passes: fusing them per group of rows (the group's nonzeros read once, from cache) measured
        slower at 100 k (0.14 against 0.08 CPU-s): the cost is the gathers from v and scatters into
        the result, not reading the nonzeros."""
        return self.rmatvec(d * self.matvec(v))

    def column_support(self, start: int) -> np.ndarray:
        """Per metadata column from ``start`` on (>= meta_offset), how many rows have it nonzero."""
        support = np.zeros(self.shape[1] - start, dtype=np.int64)
        for c in self.chunks:
            if c.meta is not None:
                m = c.meta[:, start - self.meta_offset :]
                support += np.bincount(m.indices[m.data != 0], minlength=len(support))
        return support

    def tocsr(self) -> sp.csr_matrix:
        """The float64 CSR matrix (tests, small data)."""
        rows = []
        for c in self.chunks:
            blocks = [t.values(idf) for t, idf in zip(c.text, self.idf)]
            if c.meta is not None:
                blocks.append(c.meta)
            rows.append(sp.hstack(blocks, format="csr"))
        return sp.vstack(rows, format="csr")
