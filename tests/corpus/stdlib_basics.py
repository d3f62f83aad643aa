# expect: {"json": [1, 2.5, null, "x"], "re": ["ab12", "cd34"], "date": "2024-03-01T12:00:00+00:00", "days": 29, "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "random": [5, 7, 9], "zlib": true, "gzip": true, "locale": "C", "encoding": "utf-8", "io": "héllo", "environ": "/tmp", "cpu": true}
"""CPython basics: os, io, json, re, datetime, hashlib, random, zlib, gzip, locale."""
import datetime
import gzip
import hashlib
import io
import json
import locale
import os
import random
import re
import zlib


def main():
    rng = random.Random(42)
    data = os.urandom(4096) + b"a" * 10000
    start = datetime.datetime(2024, 2, 1, 12, tzinfo=datetime.timezone.utc)
    end = start + datetime.timedelta(days=29)
    buf = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    buf.write("héllo")
    buf.flush()
    buf.seek(0)
    return {
        "json": json.loads(json.dumps([1, 2.5, None, "x"])),
        "re": re.findall(r"[a-z]+\d+", "ab12 -- cd34"),
        "date": end.isoformat(),
        "days": (end - start).days,
        "sha256": hashlib.sha256(b"abc").hexdigest(),
        "random": sorted(rng.sample(range(5, 10, 2), 3)),
        "zlib": zlib.decompress(zlib.compress(data)) == data,
        "gzip": gzip.decompress(gzip.compress(data)) == data,
        "locale": locale.setlocale(locale.LC_ALL, "C"),  # the rootfs has no locale data
        "encoding": locale.getpreferredencoding(False).lower(),
        "io": buf.read(),
        "environ": os.environ.get("TMPDIR"),
        "cpu": os.cpu_count() >= 1 and os.getpid() > 0 and len(os.getcwd()) > 0,
    }
