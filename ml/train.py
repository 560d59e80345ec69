"""Trains the gateway's fraud model (npm run fraud:train runs this inside .tools/fraud-venv).

Input: the features the TypeScript pipeline exported (src/cli/fraud-export.ts), never recomputed here.
Protocol (the handbook's, Le Borgne et al., ch. 5): train on one week, skip the 7-day label delay,
test on the next week, several folds before 2018-08-08. The test week leaves out cards already known
to be compromised (frauds in the training week or, for each test day, up to 7 days before it).
Metrics: AUC ROC, average precision, card precision@100 per day (cards detected on a previous test day
removed). The family and its settings are chosen by mean average precision over the folds; the final
model is trained on the last week whose labels are all known (the handbook's 07-25..07-31) and written
with its validation figures and thresholds as models/fraud/<version>.json.
"""

import argparse
import gzip
import hashlib
import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone

import lightgbm as lgb
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.preprocessing import StandardScaler

DAY_MS = 86_400_000
PUBLISHED = {"auc_roc": 0.872, "average_precision": 0.687, "card_precision_at_100": 0.303}
GOAL = {"auc_roc": 0.89, "average_precision": 0.72, "card_precision_at_100": 0.31}
SEED = 20180808


def utc_ms(text):
    return int(datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp() * 1000)


def day_of(ms):
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d")


def load(directory):
    with open(os.path.join(directory, "features.json")) as f:
        meta = json.load(f)
    width = len(meta["columns"])
    data = np.fromfile(os.path.join(directory, "features.f64"), dtype="<f8").reshape(-1, width)
    assert data.shape[0] == meta["rows"], "features.f64 and features.json disagree"
    return meta, data


class Folds:
    """Index sets for the handbook's train / delay / test weeks."""

    def __init__(self, data):
        self.at = data[:, 1]
        self.card = data[:, 2].astype(np.int64)
        self.label = data[:, 3]
        self.x = np.ascontiguousarray(data[:, 4:])
        self.day = np.floor(self.at / DAY_MS).astype(np.int64)

    def train(self, start_ms, days=7):
        return np.where((self.at >= start_ms) & (self.at < start_ms + days * DAY_MS))[0]

    def test(self, train_start_ms, delta_train=7, delta_delay=7, delta_test=7):
        """The handbook's get_train_test_set: test days with known-compromised cards removed."""
        train = self.train(train_start_ms, delta_train)
        known = set(self.card[train][self.label[train] == 1].tolist())
        first_day = int(self.day[train].min())
        keep = []
        for d in range(delta_test):
            delay_day = first_day + delta_train + d - 1
            known |= set(self.card[(self.day == delay_day) & (self.label == 1)].tolist())
            idx = np.where(self.day == first_day + delta_train + delta_delay + d)[0]
            keep.append(idx[~np.isin(self.card[idx], list(known))])
        return np.concatenate(keep)

    def test_all(self, train_start_ms, delta_train=7, delta_delay=7, delta_test=7):
        """Every payment of the test week (for the review budget: it is a share of all payments)."""
        start = train_start_ms + (delta_train + delta_delay) * DAY_MS
        return np.where((self.at >= start) & (self.at < start + delta_test * DAY_MS))[0]


def card_precision_at_k(day, card, label, score, k=100):
    """The handbook's card_precision_top_k, cards detected on an earlier day removed."""
    detected = set()
    precisions = []
    for d in np.unique(day):
        idx = np.where(day == d)[0]
        idx = idx[~np.isin(card[idx], list(detected))]
        cards = {}
        for i in idx:
            c = card[i]
            s, l = cards.get(c, (-1.0, 0.0))
            cards[c] = (max(s, score[i]), max(l, label[i]))
        top = sorted(cards.items(), key=lambda kv: -kv[1][0])[:k]
        hits = [c for c, (_, l) in top if l == 1]
        precisions.append(len(hits) / k)
        detected.update(hits)
    return float(np.mean(precisions))


def figures(folds, idx, score):
    y = folds.label[idx]
    return {
        "auc_roc": float(roc_auc_score(y, score)),
        "average_precision": float(average_precision_score(y, score)),
        "card_precision_at_100": card_precision_at_k(folds.day[idx], folds.card[idx], y, score),
    }


LGB_BASE = {
    "objective": "binary",
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "seed": SEED,
    "verbosity": -1,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
}

CANDIDATES = {
    "lightgbm-31": {"family": "lightgbm", "params": {**LGB_BASE, "num_leaves": 31, "learning_rate": 0.05, "min_data_in_leaf": 50}, "rounds": 250},
    "lightgbm-63": {"family": "lightgbm", "params": {**LGB_BASE, "num_leaves": 63, "learning_rate": 0.03, "min_data_in_leaf": 30}, "rounds": 300},
    "lightgbm-63-ff6": {"family": "lightgbm", "params": {**LGB_BASE, "num_leaves": 63, "learning_rate": 0.03, "min_data_in_leaf": 30, "feature_fraction": 0.6}, "rounds": 300},
    "logistic-regression": {"family": "logistic-regression"},
}


def fit(candidate, x, y):
    if candidate["family"] == "lightgbm":
        return lgb.train(candidate["params"], lgb.Dataset(x, label=y, free_raw_data=False), num_boost_round=candidate["rounds"])
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(max_iter=2000, C=1.0).fit(scaler.transform(x), y)
    return (scaler, model)


def predict(candidate, model, x):
    if candidate["family"] == "lightgbm":
        return model.predict(x)
    scaler, lr = model
    return lr.predict_proba(scaler.transform(x))[:, 1]


def export_trees(booster):
    """LightGBM's dump as flat arrays for src/fraud/model.ts (numerical splits only)."""
    dump = booster.dump_model()
    trees = []
    for info in dump["tree_info"]:
        t = {k: [] for k in ("feature", "threshold", "left", "right", "value", "default_left", "missing_type")}

        def add(node):
            i = len(t["feature"])
            for k in t:
                t[k].append(0)
            if "leaf_value" in node or "split_index" not in node:
                t["feature"][i] = -1
                t["value"][i] = float(node.get("leaf_value", 0.0))
                return i
            if node["decision_type"] != "<=":
                raise SystemExit(f"unsupported split {node['decision_type']} (categorical features are not used)")
            t["feature"][i] = int(node["split_feature"])
            t["threshold"][i] = float(node["threshold"])
            t["value"][i] = float(node["internal_value"])
            t["default_left"][i] = 1 if node["default_left"] else 0
            t["missing_type"][i] = {"None": 0, "Zero": 1, "NaN": 2}[node["missing_type"]]
            t["left"][i] = add(node["left_child"])
            t["right"][i] = add(node["right_child"])
            return i

        add(info["tree_structure"])
        trees.append(t)
    return trees


def choose_thresholds(scores, labels, budget, decline_precision):
    """Decline: the lowest score whose payments at or above are fraud at `decline_precision` or more.
    Review: the lowest score such that payments between it and the decline score stay within `budget`."""
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    y = labels[order]
    precision = np.cumsum(y) / np.arange(1, len(y) + 1)
    ok = np.where(precision >= decline_precision)[0]
    # The longest prefix whose precision holds, cut at a score boundary.
    n_decline = int(ok.max()) + 1 if len(ok) else 0
    decline = float(s[n_decline - 1]) if n_decline else 1.0
    n_review = int(np.floor(budget * len(s)))
    review = float(s[min(len(s) - 1, n_decline + n_review)]) if n_decline + n_review < len(s) else 0.0
    review = max(review, np.nextafter(review, 2.0))  # strictly above the first payment left out
    review = min(review, decline)
    sent_review = float(np.mean((scores >= review) & (scores < decline)))
    declined = float(np.mean(scores >= decline))
    return {
        "review": review,
        "decline": decline,
        "review_budget": budget,
        "decline_precision_target": decline_precision,
        "validation_review_share": sent_review,
        "validation_decline_share": declined,
        "validation_review_precision": float(np.mean(labels[(scores >= review) & (scores < decline)])) if sent_review > 0 else 0.0,
        "validation_decline_precision": float(np.mean(labels[scores >= decline])) if declined > 0 else 0.0,
        "validation_fraud_caught": float(labels[scores >= review].sum() / max(1, labels.sum())),
    }


def table(rows):
    head = f"{'':34} {'AUC ROC':>8} {'AP':>8} {'CP@100':>8}"
    lines = [head, "-" * len(head)]
    for name, f in rows:
        lines.append(f"{name:34} {f['auc_roc']:8.3f} {f['average_precision']:8.3f} {f['card_precision_at_100']:8.3f}")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--features", required=True)
    p.add_argument("--models", required=True)
    p.add_argument("--fixture", required=True)
    p.add_argument("--folds", default="2018-07-18,2018-07-11,2018-07-04,2018-06-27,2018-06-20", help="training week starts")
    p.add_argument("--final-train-start", default="2018-07-25")
    p.add_argument("--review-budget", type=float, default=0.01)
    p.add_argument("--decline-precision", type=float, default=0.95)
    p.add_argument("--source", default="shared data")
    p.add_argument("--check", metavar="ARTIFACT", help="retrain only ARTIFACT's candidate and fail unless the result is identical (CI)")
    args = p.parse_args()

    t0 = time.time()
    meta, data = load(args.features)
    folds = Folds(data)
    names = meta["features"]
    print(f"fraud:train: {meta['rows']} rows, {len(names)} features, from {meta['input']}", flush=True)

    if args.folds == "auto":
        # The gateway's own data: the last week whose labels are all known trains the final model;
        # validation folds step back a week at a time while 30 days of history precede the training week.
        last = int(folds.at.max()) // DAY_MS * DAY_MS
        final_start = last - 14 * DAY_MS
        starts = [final_start - k * 7 * DAY_MS for k in range(2, 7) if final_start - k * 7 * DAY_MS >= folds.at.min() + 30 * DAY_MS]
        if not starts:
            raise SystemExit("fraud:train: not enough history for a validation fold (needs 30 days, then 3 weeks)")
        args.final_train_start = day_of(final_start)
    else:
        starts = [utc_ms(s) for s in args.folds.split(",")]
    results = {}
    pooled = {}
    committed = None
    candidates = CANDIDATES
    if args.check:
        with open(args.check) as f:
            committed = json.load(f)
        chosen_name = next(k for k in CANDIDATES if committed["version"].endswith(f"-{k}-{committed['version'].rsplit('-', 1)[1]}"))
        candidates = {chosen_name: CANDIDATES[chosen_name]}
    for name, cand in candidates.items():
        per_fold = []
        pooled_scores, pooled_labels = [], []
        for start in starts:
            tr = folds.train(start)
            te = folds.test(start)
            model = fit(cand, folds.x[tr], folds.label[tr])
            f = figures(folds, te, predict(cand, model, folds.x[te]))
            everyone = folds.test_all(start)
            pooled_scores.append(predict(cand, model, folds.x[everyone]))
            pooled_labels.append(folds.label[everyone])
            f.update({"train": [day_of(start), day_of(start + 6 * DAY_MS)], "test": [day_of(start + 14 * DAY_MS), day_of(start + 20 * DAY_MS)], "test_rows": int(len(te))})
            per_fold.append(f)
        mean = {k: float(np.mean([f[k] for f in per_fold])) for k in PUBLISHED}
        results[name] = {"folds": per_fold, "mean": mean}
        pooled[name] = (np.concatenate(pooled_scores), np.concatenate(pooled_labels))
        print(f"  {name:22} AUC {mean['auc_roc']:.3f}  AP {mean['average_precision']:.3f}  CP@100 {mean['card_precision_at_100']:.3f}   ({time.time() - t0:.0f} s)", flush=True)

    ceiling = float(np.mean([card_precision_at_k(folds.day[folds.test(s)], folds.card[folds.test(s)], folds.label[folds.test(s)], folds.label[folds.test(s)]) for s in starts]))
    trees_only = {k: v for k, v in results.items() if candidates[k]["family"] == "lightgbm"}
    best = max(trees_only, key=lambda k: trees_only[k]["mean"]["average_precision"])
    chosen = CANDIDATES[best]
    val = results[best]
    thresholds = choose_thresholds(*pooled[best], args.review_budget, args.decline_precision)

    final_start = utc_ms(args.final_train_start)
    tr = folds.train(final_start)
    booster = fit(chosen, folds.x[tr], folds.label[tr])
    trees = export_trees(booster)
    digest = hashlib.sha256(json.dumps(trees, sort_keys=True).encode()).hexdigest()[:10]
    version = f"fraud-{datetime.fromtimestamp((final_start + 7 * DAY_MS) / 1000, tz=timezone.utc):%Y%m%d}-{best}-{digest}"
    artifact = {
        "format": "card-gateway-fraud-model/1",
        "version": version,
        "created_at": day_of(final_start + 14 * DAY_MS),
        "family": f"gradient-boosted trees (LightGBM {lgb.__version__}, {best})",
        "features": names,
        "trees": trees,
        "base_score": 0.0,
        "thresholds": thresholds,
        "training": {
            "source": args.source,
            "input": os.path.basename(meta["input"]),
            "range": [day_of(final_start), day_of(final_start + 6 * DAY_MS)],
            "rows": int(len(tr)),
            "frauds": int(folds.label[tr].sum()),
            "params": chosen.get("params"),
            "rounds": chosen.get("rounds"),
            "libraries": {"lightgbm": lgb.__version__, "numpy": np.__version__, "scikit-learn": sklearn.__version__},
            "label_delay_days": 7,
        },
        "validation": {
            "protocol": "train 7 days, skip 7 days (label delay), test 7 days; known-compromised cards removed from the test week",
            "folds": val["folds"],
            "mean": val["mean"],
            "candidates": {k: v["mean"] for k, v in results.items()},
            "card_precision_at_100_ceiling": ceiling,
            "published": {"xgboost_handbook": PUBLISHED, "goal": GOAL},
        },
    }
    if committed is not None:
        # The candidates' table is the full run's; everything else must come out the same, to the bit.
        artifact["validation"]["candidates"] = committed["validation"]["candidates"]
        same = json.dumps(artifact, sort_keys=True) == json.dumps(committed, sort_keys=True)
        print(f"fraud:train --check: retrained {version}: {'identical to' if same else 'DIFFERENT from'} {args.check}  ({time.time() - t0:.0f} s)")
        return 0 if same else 1
    os.makedirs(args.models, exist_ok=True)
    out = os.path.join(args.models, f"{version}.json")
    with open(out, "w") as f:
        json.dump(artifact, f, separators=(",", ":"))
        f.write("\n")

    # Parity fixture: 10,000 rows after the training range, with the trainer's scores.
    after = np.where(folds.at >= final_start + 7 * DAY_MS)[0]
    rng = np.random.default_rng(SEED)
    pick = np.sort(rng.choice(after, size=min(10_000, len(after)), replace=False))
    scores = booster.predict(folds.x[pick])
    os.makedirs(os.path.dirname(args.fixture), exist_ok=True)
    with gzip.open(args.fixture, "wt", compresslevel=9) as f:
        f.write(f"# trainer scores of {version}\n")
        f.write(",".join(["row", *names, "score"]) + "\n")
        for i, s in zip(pick, scores):
            f.write(",".join([str(int(data[i, 0])), *(repr(float(v)) for v in folds.x[i]), repr(float(s))]) + "\n")

    print()
    print(f"Validation ({len(starts)} folds, train one week, skip 7 days, test the next week; mean over folds)")
    rows = [(f"{k} (this run)", v["mean"]) for k, v in results.items()]
    rows += [("published: XGBoost (handbook)", PUBLISHED), ("goal", GOAL)]
    print(table(rows))
    print(f"(CP@100 ceiling on these folds, with perfect scores: {ceiling:.3f}: fewer than 100 new compromised cards a day)")
    print()
    print(f"Folds of the chosen model ({best}):")
    print(table([(f"test {f['test'][0]}..{f['test'][1]}", f) for f in val["folds"]]))
    print()
    print(
        f"Thresholds (review budget {args.review_budget:.1%}): review >= {thresholds['review']:.4f}, decline >= {thresholds['decline']:.4f}; "
        f"on the validation weeks {thresholds['validation_review_share']:.2%} to review (precision {thresholds['validation_review_precision']:.2f}), "
        f"{thresholds['validation_decline_share']:.2%} declined (precision {thresholds['validation_decline_precision']:.2f}), "
        f"{thresholds['validation_fraud_caught']:.1%} of frauds held"
    )
    print(f"Model {version}: {len(trees)} trees, trained on {artifact['training']['range'][0]}..{artifact['training']['range'][1]} -> {out}")
    print(f"Parity fixture: {len(pick)} rows -> {args.fixture}  ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
