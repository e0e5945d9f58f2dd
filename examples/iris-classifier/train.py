"""Trains both classifiers from data/iris.csv, reports leave-one-out accuracy and writes model.json.

Run by the init hook. serve.py trains the same model in memory when model.json is not there yet, because the
server starts before the init hook runs.
"""

import json
import os
import sys

import iris_model

# Below this the data or the code is broken: fail the init hook rather than serve a bad model.
MIN_ACCURACY = 0.9


def main():
    rows = iris_model.load_dataset()
    failed = False
    for method in ("naive_bayes", "knn"):
        acc = iris_model.leave_one_out_accuracy(rows, method)
        print("[init] %s leave-one-out accuracy: %.3f" % (method, acc))
        failed |= acc < MIN_ACCURACY
    if failed:
        print("[init] accuracy below %.2f: refusing to write the model" % MIN_ACCURACY, file=sys.stderr)
        return 1
    model = iris_model.train(rows)
    tmp = iris_model.MODEL_FILE + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(model, f)
        os.replace(tmp, iris_model.MODEL_FILE)
    except OSError as e:
        print("[init] cannot write %s: %s" % (iris_model.MODEL_FILE, e), file=sys.stderr)
        return 1
    print("[init] model written to %s (%d samples)" % (iris_model.MODEL_FILE, len(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
