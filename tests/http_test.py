#!/usr/bin/python3
"""pyexecd HTTP suite: the front door as a hostile client sees it (README, "HTTP limits").

    tests/http_test.py --url http://127.0.0.1:PORT [--request-ms N --header-ms N --idle-ms N ...]

Every request the daemon refuses before its route (malformed by RFC 9112, ambiguous framing, over
a limit, too slow) must get a JSON error with the documented status, its RFC 9110 reason phrase
and Connection: close, and then the connection must end, without anything after the refused
request being served. tests/run-suite.sh runs it against the main instance.
"""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from testlib import (CFG, RawConn, Skip, add_test, check, execute_body, expect_error,  # noqa: E402
                     expect_healthy, expect_healthy_resp, expect_result, expect_serving, http_request_bytes, main,
                     test)

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           408: "Request Timeout", 413: "Content Too Large", 414: "URI Too Long",
           415: "Unsupported Media Type", 422: "Unprocessable Content",
           431: "Request Header Fields Too Large", 501: "Not Implemented",
           505: "HTTP Version Not Supported"}
TYPES = {400: "BadRequest", 408: "RequestTimeout", 413: "PayloadTooLarge", 414: "URITooLong",
         431: "HeaderFieldsTooLarge", 501: "NotImplemented", 505: "HTTPVersionNotSupported"}
HOST = b"Host: 127.0.0.1\r\n"


def send_quietly(conn, data):
    """Sends what the daemon takes: it may answer and stop reading before the end."""
    try:
        conn.send(data)
    except OSError:
        pass


def expect_refused(data, status, what=""):
    """data on a fresh connection gets exactly one answer, `status` as a JSON error with
    Connection: close and the right status line, and then the connection ends."""
    with RawConn(timeout=15) as c:
        send_quietly(c, data)
        try:
            resp = c.read_response(timeout=10)
        except (EOFError, OSError) as exc:
            raise AssertionError("%sno answer, the connection ended: %r" % (what, exc))
        expect_error(resp, status, TYPES[status])
        check(resp.reason == REASONS[status], "%sstatus line must say %d %s"
              % (what, status, REASONS[status]), resp)
        check((resp.header("connection") or "").lower() == "close",
              what + "a refusal must say Connection: close", resp)
        closed = c.wait_closed(5)
        check(closed, what + "the connection must end after a refusal", resp)
        check(b"HTTP/1." not in c.buf, "%snothing after the refused request may be answered: %r"
              % (what, c.buf[:200]), resp)
    return resp


def refusal_case(name, data, status):
    add_test(name, lambda: expect_refused(data, status))


def request_line(line, headers=HOST):
    return line + b"\r\n" + headers + b"\r\n"


# --------------------------------------------------------------------------------------------
# Framing: what smuggles requests past a proxy


SMUGGLED = b"GET /health HTTP/1.1\r\n" + HOST + b"\r\n"


@test
def content_length_and_chunked_is_400_and_the_smuggled_request_is_not_served():
    chunked = b"0\r\n\r\n" + SMUGGLED
    expect_refused(b"POST /execute HTTP/1.1\r\n" + HOST + b"Content-Type: application/json\r\n"
                   b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % 5 + chunked, 400)


@test
def chunked_and_content_length_is_400_and_the_smuggled_request_is_not_served():
    expect_refused(b"POST /execute HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n"
                   b"Content-Length: 4\r\n\r\n5c\r\n" + SMUGGLED + b"\r\n0\r\n\r\n", 400)


refusal_case("transfer_encoding_gzip_chunked_is_501",
             b"POST /execute HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: gzip, chunked\r\n\r\n"
             b"0\r\n\r\n", 501)
refusal_case("transfer_encoding_identity_is_501",
             b"POST /execute HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: identity\r\n\r\n", 501)
refusal_case("two_transfer_encoding_lines_are_400",
             b"POST /execute HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)
refusal_case("transfer_encoding_in_http_1_0_is_400",
             b"POST /execute HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)
refusal_case("chunk_extension_is_400",
             b"POST /execute HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
             b"2;ext=1\r\n{}\r\n0\r\n\r\n", 400)
refusal_case("trailer_fields_are_400",
             b"POST /execute HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
             b"2\r\n{}\r\n0\r\nContent-Type: text/plain\r\n\r\n", 400)
refusal_case("malformed_chunk_size_is_400",
             b"POST /execute HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400)

for label, value in (("equal", b"2\r\nContent-Length: 2"), ("different", b"2\r\nContent-Length: 3")):
    refusal_case("two_%s_content_lengths_are_400" % label,
                 b"POST /execute HTTP/1.1\r\n" + HOST + b"Content-Length: " + value + b"\r\n\r\n{}",
                 400)
for label, value in (("x", b"x"), ("minus_one", b"-1"), ("empty", b""), ("list", b"2, 2"),
                     ("plus", b"+2"), ("two_numbers", b"2 2"), ("hex", b"0x2")):
    refusal_case("content_length_%s_is_400" % label,
                 b"POST /execute HTTP/1.1\r\n" + HOST + b"Content-Length: " + value + b"\r\n\r\n{}",
                 400)
refusal_case("content_length_past_64_bits_is_413",
             b"POST /execute HTTP/1.1\r\n" + HOST + b"Content-Length: 99999999999999999999999\r\n\r\n",
             413)


@test
def chunked_body_over_the_body_limit_is_413():
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n"
                    for _ in range(CFG.body_limit // len(chunk) + 2))
    expect_refused(b"POST /execute HTTP/1.1\r\n" + HOST + b"Content-Type: application/json\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n" + body, 413)


@test
def a_valid_chunked_request_is_served():
    body = execute_body("def main():\n    return 'chunked'\n")
    with RawConn(timeout=30) as c:
        c.send(b"POST /execute HTTP/1.1\r\n" + HOST + b"Content-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body) + body
               + b"\r\n0\r\n\r\n")
        expect_result(c.read_response(timeout=CFG.request_timeout), "chunked")


# --------------------------------------------------------------------------------------------
# Header and request-line syntax


refusal_case("obs_fold_with_a_tab_is_400",
             b"GET /health HTTP/1.1\r\n" + HOST + b"X-A: a\r\n\tb\r\n\r\n", 400)
refusal_case("obs_fold_with_a_space_is_400",
             b"GET /health HTTP/1.1\r\n" + HOST + b"X-A: a\r\n b\r\n\r\n", 400)
refusal_case("bare_lf_line_end_is_400", b"GET /health HTTP/1.1\r\n" + HOST + b"X-A: a\n\r\n", 400)
refusal_case("bare_lf_ending_the_headers_is_400", b"GET /health HTTP/1.1\r\n" + HOST + b"\n", 400)
refusal_case("bare_cr_in_a_value_is_400",
             b"GET /health HTTP/1.1\r\n" + HOST + b"X-A: a\rb\r\n\r\n", 400)
refusal_case("nul_in_a_header_value_is_400",
             b"GET /health HTTP/1.1\r\n" + HOST + b"X-A: a\x00b\r\n\r\n", 400)
refusal_case("control_character_in_a_header_value_is_400",
             b"GET /health HTTP/1.1\r\n" + HOST + b"X-A: a\x1bb\r\n\r\n", 400)
refusal_case("space_before_the_colon_is_400",
             b"GET /health HTTP/1.1\r\n" + HOST + b"Content-Length : 0\r\n\r\n", 400)
refusal_case("header_line_without_a_colon_is_400",
             b"GET /health HTTP/1.1\r\n" + HOST + b"X-A\r\n\r\n", 400)
refusal_case("whitespace_before_the_first_header_is_400",
             b"GET /health HTTP/1.1\r\n Host: 127.0.0.1\r\n\r\n", 400)
refusal_case("nul_in_the_target_is_400", request_line(b"GET /health\x00x HTTP/1.1"), 400)
refusal_case("non_ascii_in_the_target_is_400", request_line(b"GET /h\xc3\xa9 HTTP/1.1"), 400)
refusal_case("two_spaces_in_the_request_line_are_400", request_line(b"GET  /health HTTP/1.1"), 400)
refusal_case("lower_case_method_is_400", request_line(b"get /health HTTP/1.1"), 400)
refusal_case("garbage_is_400", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 64, 400)
refusal_case("http_0_9_request_is_400", b"GET /health\r\n\r\n", 400)
refusal_case("http_9_9_is_505", request_line(b"GET /health HTTP/9.9"), 505)
refusal_case("http_2_0_is_505", request_line(b"GET /health HTTP/2.0"), 505)
refusal_case("http_1_2_is_505", request_line(b"GET /health HTTP/1.2"), 505)
refusal_case("http_1_10_is_400", request_line(b"GET /health HTTP/1.10"), 400)
refusal_case("http_1_1_without_host_is_400", request_line(b"GET /health HTTP/1.1", b""), 400)
refusal_case("two_host_headers_are_400",
             request_line(b"GET /health HTTP/1.1", HOST + b"Host: example.com\r\n"), 400)
refusal_case("host_with_a_space_is_400",
             request_line(b"GET /health HTTP/1.1", b"Host: a b\r\n"), 400)


@test
def status_line_of_a_505_says_http_1_1():
    with RawConn(timeout=10) as c:
        c.send(request_line(b"GET /health HTTP/9.9"))
        while b"\r\n" not in c.buf:
            if not c._fill(time.monotonic() + 10):
                break
        line = c.buf.split(b"\r\n", 1)[0]
        check(line == b"HTTP/1.1 505 HTTP Version Not Supported",
              "status line %r, want HTTP/1.1 505 HTTP Version Not Supported" % line)


@test
def http_1_0_without_host_is_served():
    with RawConn(timeout=10) as c:
        c.send(b"GET /health HTTP/1.0\r\n\r\n")
        expect_healthy_resp(c.read_response(timeout=10))


@test
def head_gets_the_header_without_a_body_and_the_next_answer_follows():
    # evhtp sent a body for HEAD too: a keep-alive client read it as the next answer.
    with RawConn(timeout=15) as c:
        c.send(http_request_bytes("HEAD", "/health") + http_request_bytes("GET", "/health"))
        head = c.read_response(timeout=10, head=True)
        check(head.status == 405 and head.header("allow") == "GET",
              "HEAD /health is 405 with Allow: GET", head)
        check(int(head.header("content-length") or -1) > 0,
              "the answer to HEAD says the length of GET's", head)
        expect_healthy_resp(c.read_response(timeout=10))


@test
def an_error_in_a_pipelined_request_ends_the_connection_after_the_earlier_answers():
    with RawConn(timeout=15) as c:
        c.send(http_request_bytes("GET", "/health") + b"GET /health HTTP/1.1\r\n" + HOST
               + b"X-A: \x00\r\n\r\n" + http_request_bytes("GET", "/health"))
        expect_healthy_resp(c.read_response(timeout=10))
        resp = c.read_response(timeout=10)
        expect_error(resp, 400, "BadRequest")
        check(c.wait_closed(5) and b"HTTP/1." not in c.buf,
              "the request after the refused one must not be answered", resp)


# --------------------------------------------------------------------------------------------
# Sizes: answered, not reset


@test
def uri_of_100_kb_is_414():
    expect_refused(request_line(b"GET /" + b"u" * 100000 + b" HTTP/1.1"), 414)


@test
def header_value_of_100_kb_is_431():
    expect_refused(b"GET /health HTTP/1.1\r\n" + HOST + b"X-Big: " + b"b" * 100000 + b"\r\n\r\n", 431)


@test
def header_name_of_100_kb_is_431():
    expect_refused(b"GET /health HTTP/1.1\r\n" + HOST + b"X-" + b"b" * 100000 + b": v\r\n\r\n", 431)


@test
def ten_thousand_headers_are_431():
    headers = b"".join(b"X-H-%d: %d\r\n" % (i, i) for i in range(10000))
    expect_refused(b"GET /health HTTP/1.1\r\n" + HOST + headers + b"\r\n", 431)


def health_with_headers(n):
    headers = b"".join(b"X-H-%d: %d\r\n" % (i, i) for i in range(n - 1))  # + Host
    return b"GET /health HTTP/1.1\r\n" + HOST + headers + b"\r\n"


@test
def sixty_four_headers_are_served_and_sixty_five_are_431():
    with RawConn(timeout=10) as c:
        c.send(health_with_headers(64))
        expect_healthy_resp(c.read_response(timeout=10))
    expect_refused(health_with_headers(65), 431)


@test
def more_than_32_kib_of_headers_is_431():
    headers = b"".join(b"X-H-%d: %s\r\n" % (i, b"v" * 4000) for i in range(9))
    expect_refused(b"GET /health HTTP/1.1\r\n" + HOST + headers + b"\r\n", 431)


@test
def declared_body_over_the_limit_is_413_with_connection_close():
    expect_refused(b"POST /execute HTTP/1.1\r\n" + HOST + b"Content-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n" % (CFG.body_limit + 1), 413)


# --------------------------------------------------------------------------------------------
# Reason phrases of the answers routes give


def expect_status_line(data, status, timeout=None):
    with RawConn(timeout=30) as c:
        c.send(data)
        resp = c.read_response(timeout=timeout or CFG.request_timeout)
        check(resp.status == status and resp.reason == REASONS[status],
              "status line must say %d %s" % (status, REASONS[status]), resp)


add_test("reason_phrase_200", lambda: expect_status_line(http_request_bytes("GET", "/health"), 200))
add_test("reason_phrase_404", lambda: expect_status_line(http_request_bytes("GET", "/nope"), 404))
add_test("reason_phrase_405",
         lambda: expect_status_line(http_request_bytes("GET", "/execute"), 405))
add_test("reason_phrase_415", lambda: expect_status_line(
    http_request_bytes("POST", "/execute", b"{}", content_type="text/plain"), 415))
add_test("reason_phrase_422", lambda: expect_status_line(http_request_bytes(
    "POST", "/execute", execute_body("def main():\n    raise ValueError('x')\n")), 422))


# --------------------------------------------------------------------------------------------
# Deadlines


def trickle(conn, data, interval, until):
    """Sends data a byte at a time every interval seconds until it is sent, `until` passes or
    the daemon closes."""
    for i in range(len(data)):
        if time.monotonic() >= until:
            return
        try:
            conn.sock.send(data[i:i + 1])
        except OSError:
            return
        time.sleep(interval)


def expect_408_within(conn, started, bound, what):
    try:
        resp = conn.read_response(timeout=max(0.1, started + bound - time.monotonic()))
    except (EOFError, OSError) as exc:
        raise AssertionError("%s: no 408, the connection ended: %r" % (what, exc))
    expect_error(resp, 408, "RequestTimeout")
    check(resp.reason == "Request Timeout", "status line must say 408 Request Timeout", resp)
    took = time.monotonic() - started
    check(took <= bound, "%s: 408 after %.1fs, bound %.1fs" % (what, took, bound), resp)
    check(conn.wait_closed(5), what + ": the connection must end after the 408", resp)


@test(slow=True)
def slow_headers_get_408_within_the_header_deadline():
    data = http_request_bytes("GET", "/health", headers={"X-Padding": "p" * 400})
    with RawConn(timeout=30) as c:
        started = time.monotonic()
        bound = CFG.header_ms / 1000.0 + CFG.slack_s
        # Slower than the deadline: at most half the request arrives before it.
        interval = CFG.header_ms / 1000.0 / (len(data) / 2.0)
        c.sock.settimeout(0.2)
        end = started + bound
        sent = 0
        while time.monotonic() < end and b"\r\n\r\n" not in c.buf and sent < len(data) - 4:
            try:
                c.sock.send(data[sent:sent + 1])
                sent += 1
            except OSError:
                break
            try:
                chunk = c.sock.recv(65536)
                if not chunk:
                    break
                c.buf += chunk
            except socket.timeout:
                pass
            time.sleep(max(0, interval - 0.2))
        c.sock.settimeout(None)
        expect_408_within(c, started, bound, "trickled headers")


@test(slow=True)
def slow_body_gets_408_within_the_request_deadline():
    body = execute_body("def main():\n    return 1\n") + b" " * 400
    head = http_request_bytes("POST", "/execute", body)
    head = head[:len(head) - len(body)]
    with RawConn(timeout=30) as c:
        started = time.monotonic()
        c.send(head + body[:10])
        bound = CFG.request_ms / 1000.0 + CFG.slack_s
        # One byte per half second: the body cannot be complete within the deadline.
        t = threading.Thread(target=trickle, args=(c, body[10:], 0.5, started + bound),
                             daemon=True)
        t.start()
        expect_408_within(c, started, bound, "trickled body")


@test(slow=True)
def silent_connection_is_closed_without_an_answer_after_the_idle_timeout():
    with RawConn(timeout=30) as c:
        started = time.monotonic()
        closed = c.wait_closed(CFG.idle_ms / 1000.0 + CFG.slack_s)
        took = time.monotonic() - started
        check(closed, "an idle connection must be closed within --idle-ms (%d ms) + slack"
              % CFG.idle_ms)
        check(c.buf == b"", "an idle connection is closed without an answer: got %r" % c.buf[:200])
        check(took >= CFG.idle_ms / 1000.0 * 0.8,
              "closed after %.1fs, before the idle timeout of %d ms" % (took, CFG.idle_ms))


@test(slow=True)
def idle_keep_alive_connection_is_closed_after_its_last_answer():
    with RawConn(timeout=30) as c:
        c.send(http_request_bytes("GET", "/health"))
        expect_healthy_resp(c.read_response(timeout=10))
        check(c.wait_closed(CFG.idle_ms / 1000.0 + CFG.slack_s) and c.buf == b"",
              "a keep-alive connection with no next request must be closed after --idle-ms, "
              "without an answer (got %r)" % c.buf[:200])


@test(slow=True)
def deadline_starts_again_with_each_request_on_a_keep_alive_connection():
    # The second request arrives (in two halves) later than --request-ms after the first
    # request's first byte, but well within its own deadline and the idle timeout.
    wait = CFG.idle_ms / 1000.0 * 0.5
    gap = CFG.header_ms / 1000.0 * 0.6
    if wait + gap < CFG.request_ms / 1000.0 * 1.15:
        raise Skip("needs --idle-ms / 2 + --header-ms * 0.6 > --request-ms * 1.15")
    with RawConn(timeout=30) as c:
        started = time.monotonic()
        c.send(http_request_bytes("GET", "/health"))
        expect_healthy_resp(c.read_response(timeout=10))
        time.sleep(max(0, started + wait - time.monotonic()))
        second = http_request_bytes("GET", "/health")
        c.send(second[:10])
        time.sleep(gap)
        c.send(second[10:])
        try:
            resp = c.read_response(timeout=10)
        except (EOFError, OSError) as exc:
            raise AssertionError("the second request, %.1fs after the first, got no answer: %r"
                                 % (time.monotonic() - started, exc))
        expect_healthy_resp(resp)


@test
def daemon_still_serves_after_the_hostile_requests():
    expect_healthy()
    expect_serving()


if __name__ == "__main__":
    sys.exit(main(description=__doc__))
