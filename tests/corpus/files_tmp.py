# expect: {"tempfile": "data", "shutil": ["a.txt", "b.txt"], "mmap": "HELLO world", "walk": true, "stat": true, "rmtree": false, "named": 3, "symlink": "a.txt"}
"""Files: tempfile and shutil in /tmp, mmap of a /tmp file, os.walk of the stdlib."""
import glob
import mmap
import os
import shutil
import tempfile


def main():
    d = tempfile.mkdtemp()
    with tempfile.TemporaryFile() as f:  # tries O_TMPFILE first, falls back to a named file
        f.write(b"data")
        f.seek(0)
        tmp = f.read().decode()
    with tempfile.NamedTemporaryFile(dir=d) as f:
        named = f.write(b"abc")
    src = os.path.join(d, "a.txt")
    with open(src, "w") as f:
        f.write("hello world")
    shutil.copyfile(src, os.path.join(d, "b.txt"))  # copy() also copies the mode: chmod ends the sandbox
    os.makedirs(os.path.join(d, "sub", "deep"), exist_ok=True)
    os.rename(os.path.join(d, "b.txt"), os.path.join(d, "sub", "b.txt"))
    shutil.copyfile(os.path.join(d, "sub", "b.txt"), os.path.join(d, "b.txt"))
    listing = sorted(n for n in os.listdir(d) if n.endswith(".txt"))
    with open(src, "r+b") as f:
        m = mmap.mmap(f.fileno(), 0)
        m[0:5] = b"HELLO"
        m.flush()
        m.close()
    with open(src) as f:
        mapped = f.read()
    count = 0
    for root in glob.glob("/usr/lib/python3*"):
        for _, _, files in os.walk(root):
            count += len(files)
    os.symlink("a.txt", os.path.join(d, "link"))
    link = os.readlink(os.path.join(d, "link")) if os.path.islink(os.path.join(d, "link")) else ""
    st = os.stat(src)
    os.utime(src, (1, 1))
    shutil.rmtree(d)
    return {"tempfile": tmp, "shutil": listing, "mmap": mapped, "walk": count > 500,
            "stat": st.st_size == 11 and os.stat("/tmp").st_mode > 0, "rmtree": os.path.exists(d),
            "named": named, "symlink": link}
