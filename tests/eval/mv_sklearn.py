#!/usr/bin/python3
"""Compares kpulse's Isolation Forest and LOF with scikit-learn's on the same matrices.

For each matrix (synthetic ones with planted outliers, and feature windows of NAB
series whose labels mark anomaly windows) both implementations score every row, and
the ROC AUC of each against the labels is printed side by side. The run fails (exit 1)
when any |AUC(kpulse) - AUC(sklearn)| exceeds --tolerance (0.02).

  Isolation Forest: 100 trees, 256 samples; the AUC is the mean over --seeds forests
  (kpulse seeds 1..S, sklearn random_state 0..S-1), so the comparison is not one draw.
  LOF: 20 neighbours, Euclidean, exact; deterministic on both sides.

usage: mv_sklearn.py --mvscore build/tests/mvscore [--nab-dir DIR] [--seeds 3] [--json F]
Run with Debian's /usr/bin/python3 (python3-sklearn).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_NAB = os.path.join(HERE, "..", "..", "..", "..", "shared", "data", "nab")


# ----------------------------------------------------------------- matrices

def planted_blobs(rng):
    """Three Gaussian clusters in 4-D, 3% uniform outliers over a wider box."""
    centers = rng.uniform(-6, 6, size=(3, 4))
    x = np.vstack([c + rng.normal(0, 1, size=(330, 4)) for c in centers])
    out = rng.uniform(-12, 12, size=(30, 4))
    return np.vstack([x, out]), np.r_[np.zeros(len(x)), np.ones(30)]


def planted_correlated(rng):
    """6-D, strongly correlated features; outliers keep each marginal plausible
    but break the correlation (hard for axis-parallel splits)."""
    cov = np.full((6, 6), 0.9) + 0.1 * np.eye(6)
    x = rng.multivariate_normal(np.zeros(6), cov, size=1440)
    out = rng.multivariate_normal(np.zeros(6), cov, size=60)
    out[:, 3:] *= -1
    return np.vstack([x, out]), np.r_[np.zeros(1440), np.ones(60)]


def planted_density(rng):
    """A tight and a loose cluster; local outliers sit just outside the tight one
    (where LOF shines and global methods struggle)."""
    tight = rng.normal(0, 0.3, size=(700, 3))
    loose = rng.normal(8, 2.5, size=(700, 3))
    direction = rng.normal(size=(40, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    out = direction * rng.uniform(2.0, 3.0, size=(40, 1))
    return np.vstack([tight, loose, out]), np.r_[np.zeros(1400), np.ones(40)]


def planted_highdim(rng):
    """20-D Gaussian; outliers shifted by 4 sd in 3 of the 20 features."""
    x = rng.normal(size=(1960, 20))
    out = rng.normal(size=(40, 20))
    out[:, :3] += 4 * rng.choice([-1, 1], size=(40, 3))
    return np.vstack([x, out]), np.r_[np.zeros(1960), np.ones(40)]


def nab_windows(nab_dir, rel, windows):
    """Per row t: the value, the 1-hour mean, sd and range, the step change and the
    change over one day; labelled 1 when t is inside a labelled anomaly window."""
    df = pd.read_csv(os.path.join(nab_dir, "data", rel))
    t = pd.to_datetime(df["timestamp"])
    v = df["value"].astype(float)
    w = 12
    feats = pd.DataFrame({
        "value": v,
        "mean_1h": v.rolling(w).mean(),
        "sd_1h": v.rolling(w).std(),
        "range_1h": v.rolling(w).max() - v.rolling(w).min(),
        "diff_1": v.diff(),
        "diff_1d": v.diff(288),
    })
    ok = feats.notna().all(axis=1).values
    label = np.zeros(len(v))
    for a, b in windows.get(rel, []):
        label[((t >= pd.Timestamp(a)) & (t <= pd.Timestamp(b))).values] = 1
    return feats.values[ok], label[ok]


NAB_FILES = [
    "realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv",
    "realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv",
    "realAWSCloudwatch/ec2_network_in_257a54.csv",
    "realAWSCloudwatch/ec2_disk_write_bytes_1ef3de.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "artificialWithAnomaly/art_load_balancer_spikes.csv",
]


# ----------------------------------------------------------------- scoring

def write_matrix(path, x):
    with open(path, "w") as f:
        f.write(",".join(f"f{j}" for j in range(x.shape[1])) + "\n")
        for row in x:
            f.write(",".join(repr(float(v)) for v in row) + "\n")


def kpulse_scores(mvscore, algo, path, extra):
    out = subprocess.run([mvscore, algo, path] + [str(a) for a in extra], check=True,
                         capture_output=True, text=True).stdout
    return np.array([float(line) for line in out.split()])


def compare(name, x, y, mvscore, seeds, tmp):
    path = os.path.join(tmp, "m.csv")
    write_matrix(path, x)
    auc = {}
    k_if = [roc_auc_score(y, kpulse_scores(mvscore, "iforest", path, [100, 256, s + 1]))
            for s in range(seeds)]
    s_if = [roc_auc_score(y, -IsolationForest(n_estimators=100, max_samples=256,
                                               random_state=s).fit(x).score_samples(x))
            for s in range(seeds)]
    auc["iforest"] = (float(np.mean(k_if)), float(np.mean(s_if)))
    k_lof = kpulse_scores(mvscore, "lof", path, [20])
    lof = LocalOutlierFactor(n_neighbors=20).fit(x)
    auc["lof"] = (roc_auc_score(y, k_lof), roc_auc_score(y, -lof.negative_outlier_factor_))
    return {"matrix": name, "rows": int(x.shape[0]), "features": int(x.shape[1]),
            "outliers": int(y.sum()), "auc": auc}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mvscore", required=True)
    ap.add_argument("--nab-dir", default=DEFAULT_NAB)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--tolerance", type=float, default=0.02)
    ap.add_argument("--json")
    a = ap.parse_args()

    rng = np.random.default_rng(20240601)
    mats = [("synthetic blobs", *planted_blobs(rng)),
            ("synthetic correlated", *planted_correlated(rng)),
            ("synthetic density", *planted_density(rng)),
            ("synthetic 20-D", *planted_highdim(rng))]
    labels_path = os.path.join(a.nab_dir, "labels", "combined_windows.json")
    if os.path.exists(labels_path):
        with open(labels_path) as f:
            windows = json.load(f)
        for rel in NAB_FILES:
            if os.path.exists(os.path.join(a.nab_dir, "data", rel)):
                mats.append(("NAB " + os.path.basename(rel)[:-4],
                             *nab_windows(a.nab_dir, rel, windows)))
    else:
        print(f"note: no NAB labels at {labels_path}: synthetic matrices only")

    results, worst = [], 0.0
    with tempfile.TemporaryDirectory(prefix="mvsk") as tmp:
        print(f"{'matrix':34s} {'rows':>5s} {'d':>3s} {'out':>4s} | "
              f"{'IF kpulse':>9s} {'IF sklearn':>10s} {'diff':>6s} | "
              f"{'LOF kpulse':>10s} {'LOF sklearn':>11s} {'diff':>6s}")
        for name, x, y in mats:
            r = compare(name, x, y, a.mvscore, a.seeds, tmp)
            (ki, si), (kl, sl) = r["auc"]["iforest"], r["auc"]["lof"]
            worst = max(worst, abs(ki - si), abs(kl - sl))
            results.append(r)
            print(f"{name:34s} {r['rows']:5d} {r['features']:3d} {r['outliers']:4d} | "
                  f"{ki:9.4f} {si:10.4f} {ki - si:+6.3f} | "
                  f"{kl:10.4f} {sl:11.4f} {kl - sl:+6.3f}", flush=True)
    ok = worst <= a.tolerance
    print(f"largest |AUC difference| {worst:.4f} (tolerance {a.tolerance}): "
          f"{'PASS' if ok else 'FAIL'}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"results": results, "worst": worst, "pass": ok}, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
