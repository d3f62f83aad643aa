# expect: {"rows": [["a", 3], ["b", 5]], "file": 2, "memory": 1}
"""sqlite3: an in-memory database and one in a /tmp file (journal, locking)."""
import os
import sqlite3


def main():
    mem = sqlite3.connect(":memory:")
    mem.execute("create table t (k text, v int)")
    mem.executemany("insert into t values (?, ?)", [("a", 1), ("a", 2), ("b", 5)])
    rows = mem.execute("select k, sum(v) from t group by k order by k").fetchall()
    path = "/tmp/corpus.db"
    db = sqlite3.connect(path)
    db.execute("create table t (x int)")
    db.execute("insert into t values (1)")
    db.execute("insert into t values (2)")
    db.commit()
    db.close()
    db = sqlite3.connect(path)
    n = db.execute("select count(*) from t").fetchone()[0]
    db.close()
    os.unlink(path)
    return {"rows": [list(r) for r in rows], "file": n,
            "memory": mem.execute("select 1").fetchone()[0]}
