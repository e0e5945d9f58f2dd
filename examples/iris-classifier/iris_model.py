"""Gaussian naive Bayes and k-nearest-neighbours classifiers for Fisher's Iris data, standard library only."""

import csv
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_FILE = os.path.join(HERE, "data", "iris.csv")
MODEL_FILE = os.environ.get("MODEL_FILE", os.path.join(HERE, "model.json"))
FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
CLASSES = ("setosa", "versicolor", "virginica")
FORMAT_VERSION = 1
# Keeps a feature whose variance is 0 in one class from turning its likelihood into a division by zero.
VAR_SMOOTHING = 1e-9


def load_dataset(path=DATA_FILE):
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        lines = (line for line in f if not line.startswith("#"))
        for rec in csv.DictReader(lines):
            x = [float(rec[name + "_cm"]) for name in FEATURES]
            rows.append((x, rec["species"]))
    return rows


def train(rows):
    all_x = [x for x, _ in rows]
    n = len(all_x)
    mean = [sum(col) / n for col in zip(*all_x)]
    std = [math.sqrt(sum((v - m) ** 2 for v in col) / n) or 1.0 for col, m in zip(zip(*all_x), mean)]
    largest_var = max(s * s for s in std)
    per_class = {}
    for c in CLASSES:
        xs = [x for x, y in rows if y == c]
        cm = [sum(col) / len(xs) for col in zip(*xs)]
        cv = [sum((v - m) ** 2 for v in col) / len(xs) + VAR_SMOOTHING * largest_var for col, m in zip(zip(*xs), cm)]
        per_class[c] = {"prior": len(xs) / n, "mean": cm, "var": cv}
    return {
        "format_version": FORMAT_VERSION,
        "features": list(FEATURES),
        "classes": list(CLASSES),
        "naive_bayes": per_class,
        "knn": {"mean": mean, "std": std, "points": [[x, y] for x, y in rows]},
    }


def load():
    try:
        with open(MODEL_FILE, encoding="utf-8") as f:
            model = json.load(f)
        if model.get("format_version") == FORMAT_VERSION:
            return model
    except (OSError, ValueError):
        pass
    return train(load_dataset())


def _normalise(scores):
    total = sum(scores.values())
    return {c: (s / total if total > 0 else 1.0 / len(scores)) for c, s in scores.items()}


def predict_naive_bayes(model, x, candidates):
    log_post = {}
    for c in candidates:
        p = model["naive_bayes"][c]
        lp = math.log(p["prior"])
        for v, m, var in zip(x, p["mean"], p["var"]):
            lp += -0.5 * math.log(2 * math.pi * var) - (v - m) ** 2 / (2 * var)
        log_post[c] = lp
    top = max(log_post.values())
    # Shifted by the largest log posterior so that far-away inputs do not underflow every class to 0.
    return _normalise({c: math.exp(lp - top) for c, lp in log_post.items()})


def predict_knn(model, x, candidates, k):
    knn = model["knn"]
    z = [(v - m) / s for v, m, s in zip(x, knn["mean"], knn["std"])]
    dists = []
    for px, label in knn["points"]:
        if label in candidates:
            pz = [(v - m) / s for v, m, s in zip(px, knn["mean"], knn["std"])]
            dists.append((sum((a - b) ** 2 for a, b in zip(z, pz)), label))
    dists.sort(key=lambda d: d[0])
    votes = {c: 0.0 for c in candidates}
    for _, label in dists[:k]:
        votes[label] += 1.0
    return _normalise(votes)


def predict(model, x, method="naive_bayes", k=5, candidates=CLASSES):
    candidates = [c for c in CLASSES if c in candidates]
    if method == "knn":
        probs = predict_knn(model, x, candidates, k)
    else:
        probs = predict_naive_bayes(model, x, candidates)
    full = {c: round(probs.get(c, 0.0), 6) for c in CLASSES}
    # Ties go to the class listed first, so the same input always gives the same label.
    ranking = sorted(candidates, key=lambda c: (-probs[c], CLASSES.index(c)))
    return {
        "label": ranking[0],
        "probabilities": full,
        "ranking": [{"label": c, "probability": full[c]} for c in ranking],
        "method": method,
    }


def leave_one_out_accuracy(rows, method, k=5):
    hits = 0
    for i, (x, y) in enumerate(rows):
        model = train(rows[:i] + rows[i + 1:])
        hits += predict(model, x, method, k)["label"] == y
    return hits / len(rows)
