#!/usr/bin/python3
"""pyexecd corpus suite: real workloads (tests/corpus/*.py) must run to the result they expect.

    tests/corpus_test.py --url http://127.0.0.1:PORT [--wall-ms N ...]

Each corpus file defines main() and starts with a line `# expect: <JSON>`, the result main() must
return. The cloud jail's seccomp policy is an allow-list derived from this corpus
(tests/syscalls.sh): a call it lacks ends the sandbox with SecurityViolation, which fails here.
tests/run-suite.sh runs it against every build (host and gVisor).
"""

import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from testlib import add_test, check, execute, expect_ok, main  # noqa: E402

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def corpus_case(path):
    with open(path, encoding="utf-8") as f:
        source = f.read()
    first = source.splitlines()[0]
    if not first.startswith("# expect: "):
        raise SystemExit("%s: the first line must be '# expect: <JSON>'" % path)
    expected = json.loads(first[len("# expect: "):])

    def t():
        resp = execute(source, dedent=False)
        body = expect_ok(resp)
        check(body["result"] == expected, "expected result %r" % (expected,), resp)

    name = os.path.splitext(os.path.basename(path))[0]
    add_test("corpus_%s_runs_to_its_expected_result" % name, t, slow=True)


for corpus_file in sorted(glob.glob(os.path.join(CORPUS, "*.py"))):
    corpus_case(corpus_file)

if __name__ == "__main__":
    sys.exit(main(description=__doc__))
