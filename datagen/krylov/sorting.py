"""Orderings of a family of systems so that neighbours are similar (the "S" of SKR).

`greedy_order` is the paper's Algorithm 1: start at the first system and repeatedly move to the
nearest unvisited one (Euclidean distance between parameter vectors, i.e. the Frobenius distance of
the parameter fields), `O(N² d)`. `curve_order` scales to large `N` as the paper's appendix E.2
suggests: reduce the parameters to a few principal components, order the samples along a Hilbert
curve through that space, and run the greedy ordering within consecutive cells of the curve.
"""

import numpy as np


GREEDY_LIMIT = 4096  # above this many samples `sort_order` switches to the curve


def path_length(features: np.ndarray, order: np.ndarray) -> float:
    """Total distance travelled visiting `features` `(N, d)` in `order`."""
    steps = np.diff(features[order], axis=0)
    return float(np.sqrt((steps**2).sum(axis=1)).sum())


def greedy_order(features: np.ndarray, start: int = 0) -> np.ndarray:
    """Nearest-neighbour tour through the rows of `features` `(N, d)` from row `start`
    (ties go to the lowest index). Returns a permutation of `range(N)`."""
    features = np.asarray(features, np.float64)
    count = features.shape[0]
    squared = (features**2).sum(axis=1)
    visited = np.zeros(count, bool)
    order = np.empty(count, np.int64)
    current = start
    for position in range(count):
        order[position] = current
        visited[current] = True
        if position + 1 == count:
            break
        distance = squared - 2.0 * (features @ features[current])
        distance[visited] = np.inf
        current = int(np.argmin(distance))
    return order


def hilbert_index(coordinates: np.ndarray, bits: int) -> np.ndarray:
    """The position along the `d`-dimensional Hilbert curve of integer points `(N, d)` in
    `[0, 2**bits)` (Skilling's transpose algorithm, AIP Conf. Proc. 707, 2004); `d·bits ≤ 63`."""
    x = np.array(coordinates, np.int64).T.copy()
    d = x.shape[0]
    if d * bits > 63:
        raise ValueError(f"d·bits must be at most 63, got {d}·{bits}")
    q = 1 << (bits - 1)
    while q > 1:  # undo the excess work of the Gray code, axis by axis
        p = q - 1
        for i in range(d):
            high = (x[i] & q) != 0
            x[0, high] ^= p
            swap = (x[0] ^ x[i]) & p
            swap[high] = 0
            x[0] ^= swap
            x[i] ^= swap
        q >>= 1
    for i in range(1, d):  # Gray encode
        x[i] ^= x[i - 1]
    flip = np.zeros(x.shape[1], np.int64)
    q = 1 << (bits - 1)
    while q > 1:
        flip[(x[d - 1] & q) != 0] ^= q - 1
        q >>= 1
    x ^= flip
    index = np.zeros(x.shape[1], np.int64)
    for bit in range(bits - 1, -1, -1):  # interleave the transposed bits
        for i in range(d):
            index = (index << 1) | ((x[i] >> bit) & 1)
    return index


def principal_components(features: np.ndarray, dims: int, sample: int = 2048) -> np.ndarray:
    """`features` `(N, d)` projected on their `dims` leading principal axes, estimated from an
    evenly spaced subset of at most `sample` rows. Returns `(N, dims)`."""
    features = np.asarray(features, np.float64)
    centred = features - features.mean(axis=0)
    subset = centred[:: max(1, len(centred) // sample)]
    _, _, axes = np.linalg.svd(subset, full_matrices=False)
    return centred @ axes[:dims].T


def curve_order(
    features: np.ndarray, dims: int = 3, bits: int = 16, cell: int = 1024
) -> np.ndarray:
    """Hilbert-curve order in the leading `dims` principal components, refined by `greedy_order`
    within consecutive cells of `cell` samples. Returns a permutation of `range(N)`."""
    reduced = principal_components(features, dims)
    low, high = reduced.min(axis=0), reduced.max(axis=0)
    scaled = (reduced - low) / np.where(high > low, high - low, 1.0)
    coordinates = np.minimum((scaled * (1 << bits)).astype(np.int64), (1 << bits) - 1)
    order = np.argsort(hilbert_index(coordinates, bits), kind="stable")
    pieces = []
    for begin in range(0, len(order), cell):
        block = order[begin : begin + cell]
        pieces.append(block[greedy_order(features[block])])
    return np.concatenate(pieces)


def sort_order(features: np.ndarray, method: str = "auto") -> np.ndarray:
    """A permutation visiting `features` `(N, d)` so that neighbours are close.

    `method`: `"greedy"` (the paper's), `"curve"` (for large `N`), `"auto"` (greedy up to
    `GREEDY_LIMIT` samples), or `"none"` (the identity).
    """
    count = len(features)
    if method == "auto":
        method = "greedy" if count <= GREEDY_LIMIT else "curve"
    if method == "greedy":
        return greedy_order(features)
    if method == "curve":
        return curve_order(features)
    if method == "none":
        return np.arange(count)
    raise ValueError(f"unknown sort method {method!r}; use 'auto', 'greedy', 'curve' or 'none'")
