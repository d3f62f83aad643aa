# expect: {"sum": 120.0, "solve": [2.0, 3.0], "det": -2.0, "eig": [1.0, 3.0], "random": [5, 5], "fft": 8.0, "saved": true, "npz": [0, 1, 2], "dtype": "float64"}
"""numpy: array math, linalg, random, fft, save/load in /tmp."""
import numpy as np


def main():
    a = np.arange(16.0).reshape(4, 4)
    m = np.array([[3.0, 1.0], [1.0, 2.0]])
    x = np.linalg.solve(m, np.array([9.0, 8.0]))
    rng = np.random.default_rng(0)
    r = rng.normal(size=(5, 5))
    np.save("/tmp/a.npy", a)
    np.savez("/tmp/b.npz", x=np.arange(3))
    loaded = np.load("/tmp/a.npy")
    with np.load("/tmp/b.npz") as z:
        npz = z["x"].tolist()
    inv = np.linalg.inv(r) @ r
    return {"sum": float(a.sum()), "solve": [round(v, 6) for v in x.tolist()],
            "det": round(float(np.linalg.det(np.array([[1.0, 2.0], [3.0, 4.0]]))), 6),
            "eig": sorted(round(float(v), 6) for v in np.linalg.eigvalsh(np.array([[2.0, 1.0], [1.0, 2.0]]))),
            "random": list(r.shape), "fft": round(float(np.abs(np.fft.fft(np.ones(8)))[0]), 6),
            "saved": bool((loaded == a).all()) and bool(np.allclose(inv, np.eye(5))),
            "npz": npz, "dtype": str(a.dtype)}
