#!/usr/bin/python3
"""pyexecd API suite: the contract of README.md's API section, checked against a running daemon.

    tests/api_test.py --url http://127.0.0.1:PORT [--wall-ms N --stdout-bytes N ...] [--group G]

Groups: main (one ordinary daemon), busy (a daemon with --max-sandboxes 1 --queue-length 0),
queue (--max-sandboxes 1 --queue-length 1 --queue-wait-ms 300), drain (sends SIGTERM to
--daemon-pid: run it last). tests/run-suite.sh starts the daemons and runs every group.
"""

import json
import os
import re
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from testlib import (CFG, RawConn, Skip, check, execute, execute_body, expect_error,  # noqa: E402
                     expect_healthy, expect_healthy_resp, expect_json, expect_ok, expect_ran,
                     expect_result, expect_serving, health, http_request_bytes, main, request, test,
                     add_test)

HERE = os.path.dirname(os.path.abspath(__file__))


def post_raw_body(body, content_type="application/json", timeout=None):
    return request("POST", "/execute", body, content_type=content_type, timeout=timeout)


# --------------------------------------------------------------------------------------------
# Health and the success shape


@test
def health_reports_ok_mode_probe_and_sandboxes():
    resp = health()
    check(resp.status == 200, "GET /health must be 200", resp)
    body = expect_json(resp)
    check(body.get("status") == "ok", "status must be ok", resp)
    check(body.get("mode") in ("local", "cloud"), "mode must be local or cloud", resp)
    check(isinstance(body.get("probe"), dict), "probe must be an object", resp)
    sb = body.get("sandboxes")
    check(isinstance(sb, dict), "sandboxes must be an object", resp)
    for key in ("running", "queued", "max"):
        check(isinstance(sb.get(key), int), "sandboxes.%s must be an integer" % key, resp)
    check(sb["max"] == CFG.max_sandboxes, "sandboxes.max must be --max-sandboxes (%d)"
          % CFG.max_sandboxes, resp)


def readme_example():
    """The curl example of README.md, verbatim: (request body, expected response)."""
    with open(os.path.join(HERE, "..", "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"curl -s localhost:8080/execute -H 'Content-Type: application/json' \\\n"
                  r"\s*-d '([^']*)'\n# (\{.*\})\n", text)
    if not m:
        raise AssertionError("README.md no longer has the curl example this test reads")
    return m.group(1).encode("utf-8"), json.loads(m.group(2))


@test
def readme_curl_example_returns_rows_2_and_hi():
    body, expected = readme_example()
    check(expected == {"result": {"rows": 2}, "stdout": "hi\n", "stderr": ""},
          "README example changed: %r" % (expected,))
    resp = post_raw_body(body)
    got = expect_ok(resp)
    check(got == expected, "expected exactly %r" % (expected,), resp)


@test
def main_returning_none_gives_null_result():
    resp = execute("def main():\n    pass\n")
    body = expect_ok(resp)
    check(body["result"] is None, "result must be null", resp)
    check(b'"result":null' in resp.body.replace(b" ", b""), "result must be JSON null", resp)


@test
def nested_and_unicode_results_round_trip():
    value = {"list": [1, -2, 2.5, True, False, None, [[]], {}], "text": "h\u00e9llo \u65e5\u672c \U0001f600",
             "esc": "quote\" backslash\\ nl\n tab\t nul\u0000 \u2028", "big": 2 ** 62,
             "\u00fc-key": {"deep": {"deeper": [1, {"x": "y"}]}}}
    script = "import json\ndef main():\n    return json.loads(%r)\n" % json.dumps(value)
    expect_result(execute(script, dedent=False), value)


@test
def unicode_stdout_round_trips():
    resp = execute("def main():\n    print('h\u00e9llo \u65e5\u672c \U0001f600')\n    return 1\n")
    body = expect_result(resp, 1)
    check(body["stdout"] == "h\u00e9llo \u65e5\u672c \U0001f600\n", "stdout must round-trip", resp)


@test
def top_level_prints_are_part_of_stdout():
    resp = execute("""
        print("top level")
        def main():
            print("in main")
            return 0
        print("after def")
    """)
    body = expect_result(resp, 0)
    check(body["stdout"] == "top level\nafter def\nin main\n", "stdout must hold every print in order",
          resp)


@test
def stderr_is_captured():
    resp = execute("""
        import sys
        def main():
            sys.stderr.write("to stderr\\n")
            print("to stdout")
            return 1
    """)
    body = expect_result(resp, 1)
    check(body["stderr"] == "to stderr\n", "stderr must be captured", resp)
    check(body["stdout"] == "to stdout\n", "stdout must be captured separately", resp)


@test
def main_guard_block_does_not_run_and_main_is_called_once():
    resp = execute("""
        calls = []
        def main():
            calls.append(1)
            return {"name": __name__, "calls": len(calls)}
        if __name__ == "__main__":
            print("MAIN BLOCK RAN")
            main()
    """)
    body = expect_ok(resp)
    check(body["result"] == {"name": "script", "calls": 1},
          "the module is named script and main() runs once", resp)
    check("MAIN BLOCK RAN" not in body["stdout"], "the __main__ block must not run", resp)


@test
def stdin_of_the_script_is_empty():
    expect_result(execute("import sys\ndef main():\n    return sys.stdin.read()\n"), "")


@test
def raw_utf8_script_is_accepted():
    body = '{"script": "def main():\\n    return \'h\u00e9 \u65e5 \U0001f600\'\\n"}'.encode("utf-8")
    expect_result(post_raw_body(body), "h\u00e9 \u65e5 \U0001f600")


@test
def lone_surrogate_in_result_gives_valid_unicode():
    # The request side rejects lone surrogates; the response must not carry them either (a strict
    # JSON parser rejects them): U+FFFD, or SerializationError.
    resp = execute("def main():\n    return ['\\udcff', 'a\\ud800b']\n")
    body = expect_json(resp)
    if resp.status == 200:
        for item in body["result"]:
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise AssertionError("the result carries a lone surrogate: %s" % resp.describe())
    else:
        expect_error(resp, 422, "SerializationError")


# --------------------------------------------------------------------------------------------
# ValidationError (400)


def expect_validation(body, content_type="application/json"):
    resp = post_raw_body(body, content_type=content_type)
    expect_error(resp, 400, "ValidationError")
    return resp


def validation_case(name, body):
    add_test(name, lambda: expect_validation(body))


validation_case("body_not_json_is_validation_error", b'{"script": "def main(): return 1"')
validation_case("body_garbage_is_validation_error", b"not json at all")
validation_case("body_empty_is_validation_error", b"")
validation_case("json_with_comment_is_validation_error",
                b'{/* c */ "script": "def main():\\n    return 1\\n"}')
validation_case("json_with_trailing_garbage_is_validation_error",
                b'{"script": "def main():\\n    return 1\\n"} x')
validation_case("two_json_objects_are_validation_error",
                b'{"script": "def main():\\n    return 1\\n"}{"script": "x"}')
for _n, _b in (("array", b'[{"script": "def main(): return 1"}]'), ("string", b'"def main(): return 1"'),
               ("number", b"1"), ("null", b"null"), ("true", b"true")):
    validation_case("body_%s_not_object_is_validation_error" % _n, _b)
validation_case("unknown_key_is_validation_error",
                b'{"script": "def main():\\n    return 1\\n", "timeout": 5}')
validation_case("missing_script_is_validation_error", b"{}")
validation_case("missing_script_other_key_is_validation_error", b'{"code": "def main(): return 1"}')
for _n, _b in (("number", b"1"), ("null", b"null"), ("list", b'["def main(): return 1"]'),
               ("object", b'{"a": 1}'), ("bool", b"true")):
    validation_case("script_%s_not_string_is_validation_error" % _n, b'{"script": ' + _b + b"}")
validation_case("empty_script_is_validation_error", b'{"script": ""}')
validation_case("nul_escape_in_script_is_validation_error",
                b'{"script": "def main():\\n    return 1\\n\\u0000"}')
validation_case("nul_escape_mid_script_is_validation_error",
                b'{"script": "def main():\\n    return \'a\\u0000b\'\\n"}')
validation_case("raw_nul_byte_in_body_is_validation_error",
                b'{"script": "def main():\\n    return 1\\n\x00"}')
validation_case("raw_invalid_utf8_byte_ff_is_validation_error",
                b'{"script": "def main():\\n    return \'\xff\'\\n"}')
validation_case("raw_truncated_utf8_sequence_is_validation_error",
                b'{"script": "def main():\\n    return \'\xc3\'\\n"}')
validation_case("raw_overlong_utf8_is_validation_error",
                b'{"script": "def main():\\n    return \'\xc0\xaf\'\\n"}')
validation_case("raw_utf8_encoded_surrogate_is_validation_error",
                b'{"script": "def main():\\n    return \'\xed\xa0\x80\'\\n"}')
validation_case("lone_high_surrogate_escape_is_validation_error",
                b'{"script": "def main():\\n    return \'\\ud800\'\\n"}')
validation_case("lone_low_surrogate_escape_is_validation_error",
                b'{"script": "def main():\\n    return \'\\udc00x\'\\n"}')
validation_case("duplicate_script_keys_are_validation_error",
                b'{"script": "def main():\\n    return 1\\n", "script": "def main():\\n    return 2\\n"}')


@test
def escaped_surrogate_pair_is_accepted():
    # The counterpart of the lone-surrogate case: a valid pair decodes to one character.
    resp = post_raw_body(b'{"script": "def main():\\n    return \'\\ud83d\\ude00\'\\n"}')
    expect_result(resp, "\U0001f600")


@test
def deeply_nested_json_is_validation_error_and_daemon_survives():
    depth = 50000
    for body in (b"[" * depth + b"]" * depth, b'{"script": ' + b"[" * depth + b"]" * depth + b"}",
                 b'{"a":' * depth + b"1" + b"}" * depth, b"[" * depth):
        resp = post_raw_body(body)
        expect_error(resp, 400, "ValidationError")
    expect_serving()


@test
def syntax_error_is_validation_error_with_line_and_offset():
    resp = execute("def main():\n    return 1\nx = = 2\n", dedent=False)
    body = expect_error(resp, 400, "ValidationError")
    err = body["error"]
    check(err.get("line") == 3, "error.line must be 3 (the bad line)", resp)
    check(isinstance(err.get("offset"), int) and err["offset"] > 0, "error.offset must be given",
          resp)


@test
def syntax_error_on_first_line_reports_line_1():
    resp = execute("def main(:\n    return 1\n", dedent=False)
    body = expect_error(resp, 400, "ValidationError")
    check(body["error"].get("line") == 1, "error.line must be 1", resp)


@test
def script_without_main_is_validation_error():
    resp = execute("def mian():\n    return 1\nprint('top ran')\n")
    body = expect_error(resp, 400, "ValidationError")
    expect_ran(resp)
    check(body["stdout"] == "top ran\n", "the top level ran, its output is returned", resp)


@test
def non_callable_main_is_validation_error():
    expect_error(execute("main = 5\n"), 400, "ValidationError")


@test
def main_requiring_an_argument_is_validation_error():
    expect_error(execute("def main(x):\n    return x\n"), 400, "ValidationError")


@test
def main_requiring_keyword_only_argument_is_validation_error():
    expect_error(execute("def main(*, x):\n    return x\n"), 400, "ValidationError")


@test
def main_with_default_argument_runs():
    expect_result(execute("def main(x=1):\n    return x\n"), 1)


@test
def main_with_varargs_runs():
    expect_result(execute("def main(*a, **k):\n    return [len(a), len(k)]\n"), [0, 0])


@test
def callable_object_main_runs():
    expect_result(execute("class M:\n    def __call__(self):\n        return 'obj'\nmain = M()\n"),
                  "obj")


# --------------------------------------------------------------------------------------------
# ExecutionError / SerializationError (422)


@test
def exception_in_main_is_execution_error_with_traceback():
    resp = execute("""
        def helper():
            raise ValueError("boom-message-42")
        def main():
            print("before the raise")
            helper()
    """)
    body = expect_error(resp, 422, "ExecutionError")
    expect_ran(resp)
    err = body["error"]
    check(err.get("exception") == "ValueError", "error.exception must be ValueError", resp)
    check("boom-message-42" in err.get("message", ""), "error.message must carry the message", resp)
    tb = err.get("traceback")
    check(isinstance(tb, str), "error.traceback must be a string", resp)
    check("line 2" in tb and "line 5" in tb, "traceback must name the script lines 2 and 5", resp)
    check('raise ValueError("boom-message-42")' in tb, "traceback must quote the script line", resp)
    check("harness" not in tb, "traceback must show the script's frames only", resp)
    check(body["stdout"] == "before the raise\n", "stdout so far must be returned", resp)


@test
def exception_at_top_level_is_execution_error():
    resp = execute("print('top')\nimport nonexistent_module_xyz\ndef main():\n    return 1\n")
    body = expect_error(resp, 422, "ExecutionError")
    check(body["error"].get("exception") in ("ModuleNotFoundError", "ImportError"),
          "error.exception must name the import error", resp)
    check(body.get("stdout") == "top\n", "stdout so far must be returned", resp)


@test
def sys_exit_zero_in_main_is_execution_error():
    resp = execute("import sys\ndef main():\n    print('x')\n    sys.exit(0)\n")
    body = expect_error(resp, 422, "ExecutionError")
    check(body["error"].get("exception") == "SystemExit", "error.exception must be SystemExit", resp)
    check(body.get("stdout") == "x\n", "stdout so far must be returned", resp)


@test
def raise_system_exit_at_top_level_is_execution_error():
    expect_error(execute("raise SystemExit(3)\ndef main():\n    return 1\n"), 422, "ExecutionError")


@test
def os_exit_3_in_main_is_execution_error():
    resp = execute("import os\ndef main():\n    print('bye', flush=True)\n    os._exit(3)\n")
    body = expect_error(resp, 422, "ExecutionError")
    check(body.get("stdout") == "bye\n", "stdout so far must be returned", resp)


@test
def os_exit_0_in_main_is_execution_error():
    expect_error(execute("import os\ndef main():\n    os._exit(0)\n"), 422, "ExecutionError")


@test
def os_exit_at_top_level_is_execution_error():
    expect_error(execute("import os\nos._exit(0)\ndef main():\n    return 1\n"), 422,
                 "ExecutionError")


def serialization_case(name, expr, prelude=""):
    def t():
        resp = execute("%s\ndef main():\n    print('ran')\n    return %s\n" % (prelude, expr),
                       dedent=False)
        body = expect_error(resp, 422, "SerializationError")
        check(body.get("stdout") == "ran\n", "stdout must be returned", resp)
    add_test(name, t)


serialization_case("set_result_is_serialization_error", "{1, 2}")
serialization_case("nan_result_is_serialization_error", "float('nan')")
serialization_case("infinity_result_is_serialization_error", "[float('inf')]")
serialization_case("negative_infinity_result_is_serialization_error", "{'x': float('-inf')}")
serialization_case("object_result_is_serialization_error", "object()")
serialization_case("bytes_result_is_serialization_error", "b'abc'")
serialization_case("cyclic_result_is_serialization_error", "c", prelude="c = []\nc.append(c)")
serialization_case("numpy_int_result_is_serialization_error", "np.int64(1)",
                   prelude="import numpy as np")
serialization_case("non_string_key_object_is_serialization_error", "{(1, 2): 3}")


# --------------------------------------------------------------------------------------------
# PayloadTooLarge (413)


@test
def declared_content_length_over_limit_is_413():
    for declared in (CFG.body_limit + 1, 10 ** 12):
        with RawConn(timeout=10) as c:
            c.send(("POST /execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Content-Length: %d\r\n\r\n" % declared).encode())
            try:
                resp = c.read_response(timeout=10)
            except EOFError:
                raise AssertionError("Content-Length %d: connection closed with no 413" % declared)
            expect_error(resp, 413, "PayloadTooLarge")
    expect_healthy()


@test
def real_body_over_limit_is_413():
    script = "#" + "a" * (CFG.body_limit + 4096) + "\ndef main():\n    return 1\n"
    body = json.dumps({"script": script}).encode()
    with RawConn(timeout=15) as c:
        c.send(("POST /execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % len(body)).encode())
        try:
            c.send(body)
        except OSError:
            pass  # the daemon may answer and stop reading early
        try:
            resp = c.read_response(timeout=15)
        except EOFError:
            raise AssertionError("over-limit body: connection closed with no 413")
        expect_error(resp, 413, "PayloadTooLarge")
    expect_healthy()


@test
def script_over_script_limit_is_413():
    # Under the body limit (plain ASCII) but one byte over the script limit.
    script = "#" + "a" * CFG.script_bytes + "\ndef main():\n    return 1\n"
    resp = request("POST", "/execute", {"script": script})
    expect_error(resp, 413, "PayloadTooLarge")


@test
def script_of_exactly_the_script_limit_is_accepted():
    tail = "\ndef main():\n    return 'at the limit'\n"
    script = "#" + "a" * (CFG.script_bytes - 1 - len(tail)) + tail
    assert len(script.encode()) == CFG.script_bytes
    expect_result(request("POST", "/execute", {"script": script}), "at the limit")


@test
def fully_escaped_script_at_the_script_limit_is_accepted():
    # Every script byte written as a 6-byte \\u escape: the body limit must leave room for it.
    tail = "\ndef main():\n    return 'escaped'\n"
    script = "#" + "a" * (CFG.script_bytes - 1 - len(tail)) + tail
    escaped = "".join("\\u%04x" % ord(ch) for ch in script)
    body = ('{"script":"%s"}' % escaped).encode()
    check(len(body) <= CFG.body_limit, "test bug: body over the documented limit")
    expect_result(post_raw_body(body), "escaped")


@test
def multibyte_script_over_script_limit_is_413():
    # The script limit counts decoded UTF-8 bytes: 2-byte characters make it over the limit.
    n = CFG.script_bytes // 2 + 16
    script = "#" + "\u00e9" * n + "\ndef main():\n    return 1\n"
    body = json.dumps({"script": script}, ensure_ascii=False).encode()
    check(len(body) <= CFG.body_limit, "test bug: body over the body limit")
    expect_error(post_raw_body(body), 413, "PayloadTooLarge")


# --------------------------------------------------------------------------------------------
# UnsupportedMediaType (415), MethodNotAllowed (405), NotFound (404)


GOOD_BODY = b'{"script": "def main():\\n    return 1\\n"}'


@test
def text_plain_content_type_is_415():
    expect_error(post_raw_body(GOOD_BODY, content_type="text/plain"), 415, "UnsupportedMediaType")


@test
def form_content_type_is_415():
    expect_error(post_raw_body(GOOD_BODY, content_type="application/x-www-form-urlencoded"), 415,
                 "UnsupportedMediaType")


@test
def missing_content_type_is_415():
    expect_error(post_raw_body(GOOD_BODY, content_type=None), 415, "UnsupportedMediaType")


@test
def json_lookalike_content_type_is_415():
    expect_error(post_raw_body(GOOD_BODY, content_type="application/jsonx"), 415,
                 "UnsupportedMediaType")


@test
def json_content_type_with_charset_is_accepted():
    # application/json with a parameter is still application/json (RFC 9110 media types).
    expect_result(post_raw_body(GOOD_BODY, content_type="application/json; charset=utf-8"), 1)


def method_case(name, method, path, allowed):
    def t():
        body = GOOD_BODY if method in ("POST", "PUT", "PATCH") else None
        resp = request(method, path, body)
        expect_error(resp, 405, "MethodNotAllowed")
        allow = resp.header("allow")
        check(allow is not None, "405 must carry an Allow header", resp)
        methods = {m.strip().upper() for m in allow.split(",")}
        check(allowed in methods, "Allow must include %s" % allowed, resp)
    add_test(name, t)


method_case("get_execute_is_405_allow_post", "GET", "/execute", "POST")
method_case("put_execute_is_405_allow_post", "PUT", "/execute", "POST")
method_case("delete_execute_is_405_allow_post", "DELETE", "/execute", "POST")
method_case("post_health_is_405_allow_get", "POST", "/health", "GET")
method_case("delete_health_is_405_allow_get", "DELETE", "/health", "GET")


def not_found_case(name, method, path):
    def t():
        body = GOOD_BODY if method == "POST" else None
        expect_error(request(method, path, body), 404, "NotFound")
    add_test(name, t)


not_found_case("post_executeXYZ_is_404", "POST", "/executeXYZ")
not_found_case("post_execute_slash_is_404", "POST", "/execute/")
not_found_case("post_execute_dotdot_is_404", "POST", "/execute/../x")
not_found_case("post_foo_is_404", "POST", "/foo")
not_found_case("get_foo_is_404", "GET", "/foo")
not_found_case("get_root_is_404", "GET", "/")
not_found_case("get_healthz_is_404", "GET", "/healthz")
not_found_case("get_health_slash_is_404", "GET", "/health/")
not_found_case("post_double_slash_execute_is_404", "POST", "//execute")


# --------------------------------------------------------------------------------------------
# Output handling


@test
def invalid_utf8_output_becomes_replacement_char():
    resp = execute("""
        import os
        def main():
            os.write(1, b"a\\xffb\\n")
            os.write(2, b"c\\xc3(d\\n")
            return 1
    """)
    body = expect_result(resp, 1)
    check(body["stdout"] == "a\ufffdb\n", "invalid stdout bytes must become U+FFFD", resp)
    check(body["stderr"].startswith("c\ufffd") and body["stderr"].endswith("(d\n"),
          "invalid stderr bytes must become U+FFFD", resp)


@test
def utf8_character_split_across_writes_is_kept():
    resp = execute("""
        import os, time
        def main():
            e = "\\u00e9\\U0001f600".encode()
            for i in range(len(e)):
                os.write(1, e[i:i + 1])
                time.sleep(0.02)
            return 1
    """)
    body = expect_result(resp, 1)
    check(body["stdout"] == "\u00e9\U0001f600", "a character written byte by byte must survive",
          resp)


@test
def stdout_over_limit_is_output_limit_error_truncated():
    resp = execute("""
        import sys
        def main():
            while True:
                sys.stdout.write("0123456789" * 100)
    """)
    body = expect_error(resp, 422, "OutputLimitError")
    check(body.get("stdout_truncated") is True, "stdout_truncated must be true", resp)
    out = body.get("stdout")
    check(isinstance(out, str) and out, "the output so far must be returned", resp)
    check(len(out.encode()) <= CFG.stdout_bytes, "returned stdout must not exceed --stdout-bytes",
          resp)
    check(len(out) >= CFG.stdout_bytes // 2, "returned stdout should be most of the cap", resp)
    check(out == ("0123456789" * (len(out) // 10 + 1))[:len(out)], "stdout must be a prefix", resp)
    check(len(resp.body) <= CFG.stdout_bytes * 2 + 8192, "the response size must be bounded", resp)
    check(resp.elapsed < CFG.wall_s, "the sandbox must be stopped at the cap, not at the wall", resp)


@test
def stderr_over_limit_is_output_limit_error_truncated():
    resp = execute("""
        import os
        def main():
            while True:
                os.write(2, b"e" * 4096)
    """)
    body = expect_error(resp, 422, "OutputLimitError")
    check(body.get("stderr_truncated") is True, "stderr_truncated must be true", resp)
    check(isinstance(body.get("stderr"), str) and 0 < len(body["stderr"]) <= CFG.stderr_bytes,
          "the returned stderr must be within --stderr-bytes", resp)
    check(len(resp.body) <= CFG.stderr_bytes * 2 + 8192, "the response size must be bounded", resp)


@test
def stdout_of_exactly_the_limit_is_not_truncated():
    resp = execute("""
        import sys
        def main():
            sys.stdout.write("x" * %d)
            return "done"
    """ % CFG.stdout_bytes)
    body = expect_result(resp, "done")
    check(body["stdout"] == "x" * CFG.stdout_bytes, "all of stdout must be returned", resp)
    check(not body.get("stdout_truncated"), "stdout_truncated must not be set", resp)


@test
def result_over_limit_is_output_limit_error():
    resp = execute("def main():\n    return 'r' * %d\n" % (CFG.result_bytes + 1000))
    expect_error(resp, 422, "OutputLimitError")
    check(len(resp.body) <= CFG.result_bytes * 2 + 8192, "the response size must be bounded", resp)


@test
def result_one_byte_over_limit_is_output_limit_error():
    # json.dumps of a string of n characters is n + 2 bytes.
    expect_error(execute("def main():\n    return 'r' * %d\n" % (CFG.result_bytes - 1)), 422,
                 "OutputLimitError")


@test
def result_of_exactly_the_limit_is_accepted():
    n = CFG.result_bytes - 2
    resp = execute("def main():\n    return 'r' * %d\n" % n)
    expect_result(resp, "r" * n)


@test
def many_small_prints_are_all_returned():
    resp = execute("def main():\n    for i in range(2000):\n        print(i)\n    return 1\n")
    body = expect_result(resp, 1)
    check(body["stdout"] == "".join("%d\n" % i for i in range(2000)), "all prints in order", resp)


# --------------------------------------------------------------------------------------------
# HTTP connection handling


@test
def keep_alive_serves_several_requests_on_one_connection():
    with RawConn(timeout=30) as c:
        c.send(http_request_bytes("GET", "/health"))
        expect_healthy_resp(c.read_response(timeout=10))
        for i in range(3):
            c.send(http_request_bytes("POST", "/execute",
                                      execute_body("def main():\n    return %d\n" % i)))
            resp = c.read_response(timeout=CFG.request_timeout)
            expect_result(resp, i)
        c.send(http_request_bytes("GET", "/nope"))
        expect_error(c.read_response(timeout=10), 404, "NotFound")
        c.send(http_request_bytes("GET", "/health"))
        expect_healthy_resp(c.read_response(timeout=10))


@test
def pipelined_health_requests_all_get_answers():
    with RawConn(timeout=15) as c:
        c.send(http_request_bytes("GET", "/health") * 5)
        for i in range(5):
            try:
                resp = c.read_response(timeout=10)
            except (EOFError, socket.timeout) as exc:
                raise AssertionError("pipelined request %d of 5 got no answer: %r" % (i + 1, exc))
            expect_healthy_resp(resp)


@test
def pipelined_execute_requests_are_answered_in_order():
    with RawConn(timeout=30) as c:
        c.send(http_request_bytes("POST", "/execute", execute_body(
                   "import time\ndef main():\n    time.sleep(0.3)\n    return 'first'\n"))
               + http_request_bytes("POST", "/execute", execute_body("def main():\n    return 'second'\n"))
               + http_request_bytes("GET", "/health"))
        try:
            expect_result(c.read_response(timeout=CFG.request_timeout), "first")
            expect_result(c.read_response(timeout=CFG.request_timeout), "second")
            expect_healthy_resp(c.read_response(timeout=10))
        except (EOFError, socket.timeout) as exc:
            raise AssertionError("a pipelined request got no answer: %r" % exc)


def expect_timeout_or_close(conn, started, what):
    """The daemon answers 408 RequestTimeout or closes within --request-ms plus slack."""
    bound = CFG.request_ms / 1000.0 + CFG.slack_s
    try:
        resp = conn.read_response(timeout=max(0.1, started + bound - time.monotonic()))
    except EOFError:
        took = time.monotonic() - started
        check(took <= bound, "%s: closed after %.1fs, bound %.1fs" % (what, took, bound))
        return None
    except socket.timeout:
        raise AssertionError("%s: neither 408 nor close within %.1fs" % (what, bound))
    took = time.monotonic() - started
    expect_error(resp, 408, "RequestTimeout")
    check(took <= bound, "%s: 408 after %.1fs, bound %.1fs" % (what, took, bound))
    return resp


class Trickler(threading.Thread):
    """Sends data one byte at a time every `interval` seconds until stopped or the peer closes."""

    def __init__(self, conn, data, interval):
        super().__init__(daemon=True)
        self.conn, self.data, self.interval = conn, data, interval
        self.stop = threading.Event()

    def run(self):
        for i in range(len(self.data)):
            if self.stop.wait(self.interval):
                return
            try:
                self.conn.sock.send(self.data[i:i + 1])
            except OSError:
                return


@test(slow=True)
def trickled_body_gets_408_or_close_and_others_are_served():
    body = execute_body("def main():\n    return 1\n")
    with RawConn(timeout=30) as c:
        started = time.monotonic()
        head = http_request_bytes("POST", "/execute", body)
        c.send(head[:len(head) - len(body)] + body[:5])
        t = Trickler(c, body[5:], 0.5)
        t.start()
        try:
            time.sleep(0.5)
            # A slow client must not hold up anyone else.
            resp = health(timeout=5)
            check(resp.status == 200 and resp.elapsed < 2, "health must answer while a client "
                  "trickles", resp)
            expect_timeout_or_close(c, started, "trickled body")
        finally:
            t.stop.set()


@test(slow=True)
def trickled_headers_get_408_or_close():
    data = http_request_bytes("GET", "/health", headers={"X-Padding": "p" * 200})
    with RawConn(timeout=30) as c:
        started = time.monotonic()
        t = Trickler(c, data, 0.25)
        t.start()
        try:
            expect_timeout_or_close(c, started, "trickled headers")
        finally:
            t.stop.set()


@test(slow=True)
def silent_connection_is_closed():
    # Closed after --idle-ms (no request was started, so no 408: RFC 9112 9.8); a build from
    # before the idle timeout closed it after --request-ms.
    bound = max(CFG.idle_ms, CFG.request_ms) / 1000.0 + CFG.slack_s
    with RawConn(timeout=30) as c:
        started = time.monotonic()
        check(c.wait_closed(bound), "a connection that sends nothing must be closed within "
              "%.1fs" % bound)
        check(time.monotonic() - started <= bound, "closed too late")


@test
def too_many_headers_do_not_crash_the_daemon():
    headers = "".join("X-H-%d: %d\r\n" % (i, i) for i in range(20000))
    data = ("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "\r\n").encode()
    with RawConn(timeout=15) as c:
        try:
            c.send(data)
        except OSError:
            pass  # the daemon may cut the connection early
        try:
            resp = c.read_response(timeout=10)
            check(resp.status in (200, 400, 413, 431), "unexpected answer to 20000 headers", resp)
        except (EOFError, OSError):
            pass  # closing is an acceptable answer
    expect_serving()


def get_health_with_headers(n):
    headers = "".join("X-H-%d: %d\r\n" % (i, i) for i in range(n - 1))  # + Host
    with RawConn(timeout=10) as c:
        try:
            c.send(("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "\r\n").encode())
            return c.read_response(timeout=10)
        except (EOFError, OSError):
            return None


@test
def request_with_20_headers_is_served():
    resp = get_health_with_headers(20)
    check(resp is not None, "a request with 20 headers got no answer")
    expect_healthy_resp(resp)


@test
def request_over_the_64_header_cap_is_refused():
    # README: headers are capped at 64 per request.
    resp = get_health_with_headers(100)
    if resp is not None:
        check(400 <= resp.status < 500, "100 headers must be refused", resp)
        expect_json(resp)
    expect_serving()


@test
def huge_header_value_does_not_crash_the_daemon():
    data = ("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + "b" * 200000 + "\r\n\r\n").encode()
    with RawConn(timeout=15) as c:
        try:
            c.send(data)
            resp = c.read_response(timeout=10)
            check(resp.status in (200, 400, 413, 431), "unexpected answer to a 200 kB header", resp)
        except (EOFError, OSError):
            pass
    expect_serving()


@test
def long_uri_does_not_crash_the_daemon():
    with RawConn(timeout=15) as c:
        try:
            c.send(("GET /" + "u" * 20000 + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").encode())
            resp = c.read_response(timeout=10)
            check(resp.status in (400, 404, 414, 431), "a 20000-byte URI is not /health", resp)
        except (EOFError, OSError):
            pass
    expect_serving()


@test
def malformed_requests_do_not_crash_the_daemon():
    import random
    rng = random.Random(1234)
    samples = [b"GARBAGE\r\n\r\n", b"GET /health\r\n\r\n", b"GET /health HTTP/9.9\r\n\r\n",
               b"POST /execute HTTP/1.1\r\nContent-Length: x\r\n\r\n",
               b"POST /execute HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
               b"POST /execute HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
               b"POST /execute HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Type: "
               b"application/json\r\n\r\nzz\r\n",
               b"\x00\x01\x02\xff" * 64]
    samples += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600))) for _ in range(20)]
    for data in samples:
        with RawConn(timeout=5) as c:
            try:
                c.send(data)
                c.sock.shutdown(socket.SHUT_WR)
                c.wait_closed(5)
            except OSError:
                pass
    expect_serving()


@test
def chunked_request_body_is_handled():
    # Not documented either way; it must give a documented answer and not hang or crash.
    body = execute_body("def main():\n    return 'chunked'\n")
    with RawConn(timeout=30) as c:
        c.send(b"POST /execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        try:
            resp = c.read_response(timeout=CFG.request_timeout)
        except EOFError:
            resp = None
        if resp is not None and resp.status == 200:
            expect_result(resp, "chunked")
        elif resp is not None:
            check(resp.status in (400, 411, 413, 415, 501), "unexpected answer to a chunked body",
                  resp)
            expect_json(resp)
    expect_serving()


@test
def http_1_0_request_is_answered_and_closed():
    with RawConn(timeout=10) as c:
        c.send(b"GET /health HTTP/1.0\r\n\r\n")
        expect_healthy_resp(c.read_response(timeout=10))
        check(c.wait_closed(5), "an HTTP/1.0 request without keep-alive must be closed after the answer")


@test
def expect_100_continue_gets_100_then_the_result():
    # curl sends Expect: 100-continue for bodies over 1 kB and waits a second for the 100.
    body = execute_body("def main():\n    return 'continued'\n" + "#" * 2000 + "\n")
    with RawConn(timeout=30) as c:
        c.send(("POST /execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(body)).encode())
        try:
            interim = c.read_response(timeout=1.0, head=True)
        except (socket.timeout, EOFError):
            interim = None
        c.send(body)
        resp = c.read_response(timeout=CFG.request_timeout)
        expect_result(resp, "continued")
        check(interim is not None and interim.status == 100,
              "no 100 Continue within 1 s: curl stalls a second on every script over 1 kB")


@test
def expect_100_continue_over_limit_gets_413_without_the_body():
    with RawConn(timeout=10) as c:
        c.send(("POST /execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % (CFG.body_limit + 1)).encode())
        try:
            resp = c.read_response(timeout=5)
        except (socket.timeout, EOFError) as exc:
            raise AssertionError("no 413 before the body was sent: %r" % exc)
        expect_error(resp, 413, "PayloadTooLarge")


@test
def client_disconnect_mid_execution_does_not_hurt_the_daemon():
    with RawConn(timeout=10) as c:
        c.send(http_request_bytes("POST", "/execute", execute_body(
            "import time\ndef main():\n    time.sleep(1)\n    return 1\n")))
        time.sleep(0.2)
    time.sleep(1.5)
    expect_serving()


# --------------------------------------------------------------------------------------------
# ServerBusy (503): run against a daemon with --max-sandboxes 1 --queue-length 0 (group busy),
# and one with --max-sandboxes 1 --queue-length 1 --queue-wait-ms 300 (group queue).


def start_slow_request(seconds, result):
    out = {}

    def run():
        try:
            out["resp"] = execute("import time\ndef main():\n    time.sleep(%s)\n    return %r\n"
                                  % (seconds, result))
        except Exception as exc:
            out["exc"] = exc

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th, out


def wait_running(n, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = health(timeout=5)
        sb = (resp.json or {}).get("sandboxes") or {}
        if sb.get("running", 0) >= n:
            return
        time.sleep(0.05)
    raise AssertionError("health never showed %d running sandbox(es)" % n)


def finish_slow_request(th, out, result):
    th.join(CFG.request_timeout)
    check(not th.is_alive(), "the slow request never finished")
    if "exc" in out:
        raise AssertionError("the slow request failed: %r" % out["exc"])
    expect_result(out["resp"], result)


def expect_busy(resp):
    expect_error(resp, 503, "ServerBusy")
    ra = resp.header("retry-after")
    check(ra is not None and ra.strip().isdigit(), "503 must carry Retry-After: seconds", resp)


@test(group="busy")
def busy_request_beyond_sandboxes_gets_503_with_retry_after():
    th, out = start_slow_request(2, "slow one")
    wait_running(1)
    resp = execute("def main():\n    return 1\n")
    expect_busy(resp)
    check(resp.elapsed < 1.5, "with no queue the 503 must be immediate", resp)
    finish_slow_request(th, out, "slow one")
    expect_result(execute("def main():\n    return 'after'\n"), "after")


@test(group="busy")
def busy_health_still_answers_while_sandboxes_are_full():
    th, out = start_slow_request(1.5, "x")
    wait_running(1)
    body = expect_healthy()
    check(body["sandboxes"]["running"] == 1 and body["sandboxes"]["max"] == 1,
          "health must show 1 of 1 running: %r" % body)
    finish_slow_request(th, out, "x")


@test(group="queue")
def queued_request_gets_503_when_queue_wait_runs_out():
    th, out = start_slow_request(3, "holder")
    wait_running(1)
    resp = execute("def main():\n    return 1\n")
    expect_busy(resp)
    wait_s = CFG.queue_wait_ms / 1000.0
    check(resp.elapsed >= wait_s * 0.8, "the request must wait ~%.1fs in the queue" % wait_s, resp)
    check(resp.elapsed <= wait_s + 1.5, "the 503 must come when the queue wait runs out", resp)
    finish_slow_request(th, out, "holder")


@test(group="queue")
def request_beyond_full_queue_gets_503_at_once():
    th, out = start_slow_request(3, "holder")
    wait_running(1)
    queued = {}

    def queued_req():
        try:
            queued["resp"] = execute("def main():\n    return 2\n")
        except Exception as exc:
            queued["exc"] = exc

    q = threading.Thread(target=queued_req, daemon=True)
    q.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        sb = (health(timeout=5).json or {}).get("sandboxes") or {}
        if sb.get("queued", 0) >= 1:
            break
        time.sleep(0.01)
    else:
        raise AssertionError("health never showed the queued request")
    resp = execute("def main():\n    return 3\n")
    expect_busy(resp)
    check(resp.elapsed < 0.25, "with the queue full the 503 must not wait", resp)
    q.join(10)
    check("resp" in queued, "the queued request got no answer: %r" % queued)
    expect_busy(queued["resp"])
    finish_slow_request(th, out, "holder")


@test(group="queue")
def queued_request_runs_when_a_sandbox_frees_in_time():
    if CFG.queue_wait_ms < 200:
        raise Skip("needs --queue-wait-ms >= 200")
    th, out = start_slow_request(0.15, "short")
    wait_running(1)
    resp = execute("def main():\n    return 'queued and ran'\n")
    # The holder sleeps 150 ms: the queued request should get the sandbox within the queue wait.
    finish_slow_request(th, out, "short")
    if resp.status == 503:
        raise AssertionError("a request queued behind a 150 ms script got 503 after %.2fs "
                             "(--queue-wait-ms %d)" % (resp.elapsed, CFG.queue_wait_ms))
    expect_result(resp, "queued and ran")


@test(group="drain", last=True)
def sigterm_lets_the_running_request_finish_and_refuses_new_ones():
    if not CFG.daemon_pid:
        raise Skip("needs --daemon-pid")
    th, out = start_slow_request(1.5, "finished during drain")
    wait_running(1)
    os.kill(CFG.daemon_pid, signal.SIGTERM)
    time.sleep(0.3)
    try:
        resp = execute("def main():\n    return 'new'\n", timeout=10)
        expect_busy(resp)
    except (ConnectionError, OSError):
        pass  # the listener is closed: also a refusal
    finish_slow_request(th, out, "finished during drain")


if __name__ == "__main__":
    sys.exit(main(description=__doc__))
