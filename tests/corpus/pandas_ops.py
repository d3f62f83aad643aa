# expect: {"groupby": {"x": 4, "y": 6}, "merge": 3, "csv": [[1, "x", 1.5], [2, "y", 2.5]], "mean": 2.5, "dates": ["2024-01-31", "2024-02-29"], "resample": [3, 2], "pivot": 10.0}
"""pandas: DataFrame build, groupby, merge, to_csv/read_csv in /tmp, describe, datetime ops."""
import pandas as pd


def main():
    df = pd.DataFrame({"id": [1, 2, 3, 4], "k": ["x", "y", "x", "y"], "v": [1, 2, 3, 4]})
    other = pd.DataFrame({"id": [1, 2, 3], "w": [0.5, 1.5, 2.5]})
    merged = df.merge(other, on="id")
    small = pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [1.5, 2.5]})
    small.to_csv("/tmp/s.csv", index=False)
    back = pd.read_csv("/tmp/s.csv")
    ends = pd.date_range("2024-01-01", periods=2, freq="M")
    ts = pd.Series(range(5), index=pd.date_range("2024-01-01", periods=5, freq="D"))
    counts = ts.resample("3D").count().tolist()
    pivot = df.pivot_table(index="k", values="v", aggfunc="sum").sum().iloc[0]
    return {"groupby": {k: int(v) for k, v in df.groupby("k")["v"].sum().items()},
            "merge": len(merged), "csv": back.values.tolist(),
            "mean": float(df.describe().loc["mean", "v"]),
            "dates": [d.strftime("%Y-%m-%d") for d in ends], "resample": counts,
            "pivot": float(pivot)}
