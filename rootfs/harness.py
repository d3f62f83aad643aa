"""pyexecd in-jail harness.

Reads the script on fd 0, runs it as the module `script`, calls main() and writes exactly one frame
on fd 3, the result channel: b"R" + json.dumps(result) on success, b"E" + a JSON error object
otherwise. stdout and stderr are the script's own; nothing printed there is read as a result.
"""

import json
import linecache
import os
import sys
import traceback
import types

RESULT_FD = 3
SCRIPT = "<script>"
HARNESS_PID = os.getpid()


def read_script():
    chunks = []
    while True:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    # The script's own stdin is empty.
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return b"".join(chunks).decode("utf-8")


def send(tag, text):
    # A process the script forked returns through here too: only the harness itself reports.
    if os.getpid() != HARNESS_PID:
        os._exit(0)
    # Flush what the script printed before the frame, so the supervisor has it all.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    view = memoryview(tag + text.encode("ascii"))
    while view:
        view = view[os.write(RESULT_FD, view):]
    os.close(RESULT_FD)


def fail(kind, message, **extra):
    send(b"E", json.dumps(dict(type=kind, message=message, **extra)))


def script_traceback(exc):
    # Show only the script's frames, not the harness's.
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != SCRIPT:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def report_exception(exc, where):
    if isinstance(exc, MemoryError):
        return fail("MemoryLimitError", "MemoryError raised " + where)
    name = type(exc).__qualname__
    if type(exc).__module__ not in ("builtins", "__main__"):
        name = type(exc).__module__ + "." + name
    if isinstance(exc, SystemExit):
        message = "SystemExit(%r) raised %s" % (exc.code, where)
    else:
        message = str(exc)
    return fail("ExecutionError", message, exception=name, traceback=script_traceback(exc))


def required_parameters(func):
    code = getattr(func, "__code__", None)
    if isinstance(func, types.FunctionType) and code is not None:
        # A plain function (the usual main): read its code object; importing inspect would
        # cost ~10 ms on every request.
        names = code.co_varnames
        positional = names[:code.co_argcount]
        kwonly = names[code.co_argcount:code.co_argcount + code.co_kwonlyargcount]
        defaults = len(func.__defaults__ or ())
        kwdefaults = func.__kwdefaults__ or {}
        return ([n for n in positional[:len(positional) - defaults]] +
                [n for n in kwonly if n not in kwdefaults])
    import inspect
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def run():
    source = read_script()
    os.set_inheritable(RESULT_FD, False)
    linecache.cache[SCRIPT] = (len(source), None, source.splitlines(True), SCRIPT)
    try:
        code = compile(source, SCRIPT, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return fail("ValidationError", "syntax error: %s" % exc.msg,
                    line=exc.lineno or 0, offset=exc.offset or 0)
    module = types.ModuleType("script")
    module.__file__ = SCRIPT
    sys.modules["script"] = module
    try:
        exec(code, module.__dict__)
    except BaseException as exc:
        return report_exception(exc, "at the script's top level")
    main = module.__dict__.get("main")
    if not callable(main):
        return fail("ValidationError", "the script must define a callable top-level main()")
    needed = required_parameters(main)
    if needed:
        return fail("ValidationError",
                    "main() must take no arguments; it requires: " + ", ".join(needed))
    try:
        result = main()
    except BaseException as exc:
        return report_exception(exc, "in main()")
    try:
        text = json.dumps(result, allow_nan=False, separators=(",", ":"))
    except MemoryError as exc:
        return report_exception(exc, "while serialising the result")
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        return fail("SerializationError", "main() returned a value that is not JSON: %s" % exc)
    return send(b"R", text)


if __name__ == "__main__":
    run()
