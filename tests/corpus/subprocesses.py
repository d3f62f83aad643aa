# expect: {"python": "6\n", "rc": 3, "stdin": "HELLO", "shell": "no shell in the rootfs", "popen": 0}
"""subprocess: /usr/bin/python3 children (run, pipes, exit codes); the rootfs has no shell."""
import os
import subprocess
import sys


def main():
    out = subprocess.run([sys.executable, "-c", "print(2 * 3)"], capture_output=True, text=True,
                         timeout=30)
    rc = subprocess.run([sys.executable, "-c", "import sys; sys.exit(3)"]).returncode
    up = subprocess.run([sys.executable, "-c", "import sys; print(sys.stdin.read().upper(), end='')"],
                        input="hello", capture_output=True, text=True).stdout
    with subprocess.Popen([sys.executable, "-c", "pass"], stdout=subprocess.DEVNULL) as p:
        popen = p.wait()
    shell = "no shell in the rootfs"
    if os.path.exists("/bin/sh"):
        shell = subprocess.run("echo hi", shell=True, capture_output=True, text=True).stdout
    return {"python": out.stdout, "rc": rc, "stdin": up, "shell": shell, "popen": popen}
