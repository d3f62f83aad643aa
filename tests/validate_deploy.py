#!/usr/bin/python3
"""Checks pyexecd's deploy files against the daemon they deploy.

    tests/validate_deploy.py [--pyexecd BINARY] [--deploy DIR] [--readme README.md]

Reads the daemon's settings and defaults from `BINARY --help` (default: build/cloud/pyexecd, else
build/local/pyexecd), applies what a manifest sets in the container's environment or arguments,
and checks that:
  modes/cloud/deploy/service.yaml (Cloud Run, Knative serving.knative.dev/v1 Service)
    - is one well-formed Service in the first-generation (gVisor) execution environment;
    - containerConcurrency lies between --max-sandboxes and --max-sandboxes + --queue-length;
    - timeoutSeconds covers --request-ms + --queue-wait-ms + --wall-ms with a margin;
    - memory covers every sandbox (--memory-mb + --tmp-mb each), the daemon and the copy of the
      rootfs; one CPU per sandbox;
    - --drain-ms ends before Cloud Run's SIGKILL (10 s after SIGTERM); probes ask GET /health.
  modes/cloud/deploy/kubernetes.yaml (RuntimeClass, Deployment, Service, HorizontalPodAutoscaler)
    - a gVisor RuntimeClass (handler runsc) that the Deployment uses;
    - selectors, ports and the autoscaler's target refer to each other;
    - requests = limits, sized as above; probes on GET /health;
    - terminationGracePeriodSeconds above the preStop pause + --drain-ms.
  README.md: its `gcloud run deploy` flags match service.yaml, and a `docker run` of the local image
    uses exactly the --security-opt flags Dockerfile.local documents (checked when present).
Needs PyYAML (Debian package python3-yaml). Last line: `N passed, N failed`; exit 1 on failure.
"""

import argparse
import math
import os
import re
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Memory on top of the sandboxes (MiB): the daemon and gVisor's sentry, and the rootfs once more:
# the cloud jail hard-links it into a tree per slot, which makes the container's overlay copy it
# into its writable layer (measured: 142 MiB), and Cloud Run keeps that layer in memory.
DAEMON_OVERHEAD_MIB = 256
ROOTFS_COPY_MIB = 160
# Seconds a request may need on top of the daemon's own limits (reading, replying).
TIMEOUT_MARGIN_S = 5
# Cloud Run sends SIGKILL this long after SIGTERM.
CLOUD_RUN_SIGTERM_GRACE_S = 10

results = {"pass": 0, "fail": 0}


def check(name, ok, detail=""):
    if ok:
        results["pass"] += 1
        print("PASS %s" % name)
    else:
        results["fail"] += 1
        print("FAIL %s%s" % (name, ": " + detail if detail else ""))
    return ok


def finish():
    print("%d passed, %d failed" % (results["pass"], results["fail"]))
    return 1 if results["fail"] or not results["pass"] else 0


# --- the daemon's settings -----------------------------------------------------------------------

class Settings:
    """Defaults from `pyexecd --help`: flag -> value, env -> flag."""

    def __init__(self, help_text):
        self.default = {}
        self.env_flag = {}
        for line in help_text.splitlines():
            m = re.match(r"^\s+--([a-z][a-z0-9-]*)\s+([A-Z][A-Z0-9_]*)\s+(\S+)\s", line)
            if m:
                self.default[m.group(1)] = m.group(3)
                self.env_flag[m.group(2)] = m.group(1)

    def effective(self, env=None, args=None):
        """The values in force in a container with this environment and these arguments."""
        values = dict(self.default)
        for name, value in (env or {}).items():
            if name in self.env_flag:
                values[self.env_flag[name]] = str(value)
        args = list(args or [])
        i = 0
        while i < len(args):
            a = args[i]
            if a.startswith("--") and "=" in a:
                values[a[2:].split("=", 1)[0]] = a.split("=", 1)[1]
            elif a.startswith("--") and i + 1 < len(args):
                values[a[2:]] = args[i + 1]
                i += 1
            i += 1
        return values


def load_settings(binary):
    try:
        out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        return None, "cannot run %s --help: %s" % (binary, exc)
    s = Settings(out.stdout + out.stderr)
    needed = ("port", "max-sandboxes", "queue-length", "memory-mb", "tmp-mb", "wall-ms",
              "queue-wait-ms", "request-ms", "drain-ms")
    missing = [n for n in needed if n not in s.default]
    if missing:
        return None, "%s --help does not list %s" % (binary, ", ".join("--" + n for n in missing))
    return s, ""


def num(values, flag):
    return int(values[flag])


# --- quantities ----------------------------------------------------------------------------------

def mebibytes(q):
    """A Kubernetes memory quantity in MiB (float)."""
    m = re.fullmatch(r"([0-9.]+)([KMGT]i?|)", str(q).strip())
    if not m:
        raise ValueError("not a memory quantity: %r" % q)
    n = float(m.group(1))
    unit = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
            "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40}[m.group(2)]
    return n * unit / 2 ** 20


def cpus(q):
    q = str(q).strip()
    if q.endswith("m"):
        return int(q[:-1]) / 1000.0
    return float(q)


def required_memory_mib(v):
    return num(v, "max-sandboxes") * (num(v, "memory-mb") + num(v, "tmp-mb")) + DAEMON_OVERHEAD_MIB \
        + ROOTFS_COPY_MIB


def required_timeout_s(v):
    return math.ceil((num(v, "request-ms") + num(v, "queue-wait-ms") + num(v, "wall-ms")) / 1000.0) \
        + TIMEOUT_MARGIN_S


def container_env(container):
    return {e.get("name"): e.get("value") for e in container.get("env") or [] if "value" in e}


def health_probe_ok(probe, port_ok):
    if not isinstance(probe, dict):
        return False
    g = probe.get("httpGet") or {}
    return g.get("path") == "/health" and port_ok(g.get("port"))


# --- Cloud Run -----------------------------------------------------------------------------------

def check_cloud_run(path, settings):
    name = "service.yaml"
    import yaml
    try:
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
    except (OSError, yaml.YAMLError) as exc:
        check(name + " parses as YAML", False, str(exc))
        return None
    check(name + " parses as YAML", True)
    if not check(name + " is one Knative serving.knative.dev/v1 Service",
                 len(docs) == 1 and docs[0].get("apiVersion") == "serving.knative.dev/v1"
                 and docs[0].get("kind") == "Service" and (docs[0].get("metadata") or {}).get("name"),
                 "found %r" % [(d.get("apiVersion"), d.get("kind")) for d in docs]):
        return None
    svc = docs[0]
    tmpl = (svc.get("spec") or {}).get("template") or {}
    ann = (tmpl.get("metadata") or {}).get("annotations") or {}
    check(name + " runs in the first-generation (gVisor) execution environment",
          ann.get("run.googleapis.com/execution-environment") == "gen1",
          "run.googleapis.com/execution-environment is %r"
          % ann.get("run.googleapis.com/execution-environment"))
    spec = tmpl.get("spec") or {}
    containers = spec.get("containers") or []
    if not check(name + " has one container with an image",
                 len(containers) == 1 and containers[0].get("image"), "%d containers" % len(containers)):
        return None
    c = containers[0]
    v = settings.effective(container_env(c), list(c.get("command") or [])[1:] + list(c.get("args") or []))
    ports = c.get("ports") or []
    port = ports[0].get("containerPort") if ports else 8080
    # Cloud Run sets PORT to the containerPort; a PORT of our own would be refused.
    check(name + " lets Cloud Run set PORT (no PORT in env)", "PORT" not in container_env(c))
    check(name + " containerPort is a valid port", isinstance(port, int) and 0 < port < 65536, repr(port))

    lo, hi = num(v, "max-sandboxes"), num(v, "max-sandboxes") + num(v, "queue-length")
    cc = spec.get("containerConcurrency")
    check(name + " containerConcurrency is between --max-sandboxes and --max-sandboxes + --queue-length",
          isinstance(cc, int) and lo <= cc <= hi, "%r, want %d..%d" % (cc, lo, hi))
    to = spec.get("timeoutSeconds")
    need = required_timeout_s(v)
    check(name + " timeoutSeconds covers --request-ms + --queue-wait-ms + --wall-ms",
          isinstance(to, int) and need <= to <= 3600, "%r, want %d..3600" % (to, need))
    limits = (c.get("resources") or {}).get("limits") or {}
    try:
        mem = mebibytes(limits.get("memory"))
        cpu = cpus(limits.get("cpu"))
    except (ValueError, TypeError) as exc:
        check(name + " sets resources.limits memory and cpu", False, str(exc))
        mem = cpu = None
    if mem is not None:
        need_mem = required_memory_mib(v)
        check(name + " memory covers every sandbox plus the daemon", mem >= need_mem,
              "%.0f MiB, want >= %d MiB" % (mem, need_mem))
        check(name + " has one CPU per sandbox", cpu >= num(v, "max-sandboxes"),
              "%s CPU for %s sandboxes" % (cpu, v["max-sandboxes"]))
    check(name + " drain ends before Cloud Run's SIGKILL",
          num(v, "drain-ms") < CLOUD_RUN_SIGTERM_GRACE_S * 1000,
          "--drain-ms %s, Cloud Run kills %d s after SIGTERM" % (v["drain-ms"], CLOUD_RUN_SIGTERM_GRACE_S))
    port_ok = lambda p: p in (None, port)  # noqa: E731
    for probe in ("startupProbe", "livenessProbe"):
        if probe in c:
            check(name + " %s is GET /health on the container port" % probe,
                  health_probe_ok(c[probe], port_ok), repr(c[probe]))
    return {"env": container_env(c), "memory": limits.get("memory"), "cpu": str(limits.get("cpu")),
            "concurrency": cc, "timeout": to,
            "execution-environment": ann.get("run.googleapis.com/execution-environment")}


# --- Kubernetes ----------------------------------------------------------------------------------

def check_kubernetes(path, settings):
    name = "kubernetes.yaml"
    import yaml
    try:
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
    except (OSError, yaml.YAMLError) as exc:
        check(name + " parses as YAML", False, str(exc))
        return
    check(name + " parses as YAML", True)
    by_kind = {}
    for d in docs:
        by_kind.setdefault((d.get("apiVersion"), d.get("kind")), []).append(d)
    want = [("node.k8s.io/v1", "RuntimeClass"), ("apps/v1", "Deployment"), ("v1", "Service"),
            ("autoscaling/v2", "HorizontalPodAutoscaler")]
    missing = [w for w in want if len(by_kind.get(w, [])) != 1]
    if not check(name + " has one RuntimeClass, Deployment, Service and HorizontalPodAutoscaler",
                 not missing, "missing or repeated: %r" % missing):
        return
    rc, dep, svc, hpa = (by_kind[w][0] for w in want)
    for d in (rc, dep, svc, hpa):
        check(name + " %s has a name" % d["kind"], bool((d.get("metadata") or {}).get("name")))
    check(name + " RuntimeClass uses the runsc (gVisor) handler", rc.get("handler") == "runsc",
          repr(rc.get("handler")))

    dspec = dep.get("spec") or {}
    pod = (dspec.get("template") or {}).get("spec") or {}
    labels = ((dspec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    check(name + " Deployment runs in the gVisor RuntimeClass",
          pod.get("runtimeClassName") == rc["metadata"]["name"], repr(pod.get("runtimeClassName")))
    sel = (dspec.get("selector") or {}).get("matchLabels") or {}
    check(name + " Deployment selector matches its pod labels",
          sel and all(labels.get(k) == val for k, val in sel.items()), "%r vs %r" % (sel, labels))
    containers = pod.get("containers") or []
    if not check(name + " Deployment has one container with an image",
                 len(containers) == 1 and containers[0].get("image")):
        return
    c = containers[0]
    sc = c.get("securityContext") or {}
    check(name + " container is not privileged", not sc.get("privileged"))
    v0 = settings.effective(container_env(c), list(c.get("command") or [])[1:] + list(c.get("args") or []))
    scratch, rootfs = v0.get("scratch", "/var/tmp/pyexecd"), v0.get("rootfs", "")
    mounts = [m.get("mountPath", "") for m in c.get("volumeMounts") or []]
    on_own_fs = lambda path: not any(path == m or path.startswith(m.rstrip("/") + "/")  # noqa: E731
                                     for m in mounts)
    check(name + " scratch and rootfs stay on the container's writable file system",
          not sc.get("readOnlyRootFilesystem") and on_own_fs(scratch) and on_own_fs(rootfs),
          "readOnlyRootFilesystem %r, volume mounts %r" % (sc.get("readOnlyRootFilesystem"), mounts))
    v = settings.effective(container_env(c), list(c.get("command") or [])[1:] + list(c.get("args") or []))
    ports = c.get("ports") or []
    cport = ports[0].get("containerPort") if ports else None
    pname = ports[0].get("name") if ports else None
    check(name + " containerPort is the port pyexecd listens on ($PORT)",
          cport == num(v, "port"), "containerPort %r, pyexecd --port %s" % (cport, v["port"]))
    port_ok = lambda p: p is not None and p in (cport, pname)  # noqa: E731
    for probe in ("readinessProbe", "livenessProbe"):
        check(name + " %s is GET /health on the container port" % probe,
              health_probe_ok(c.get(probe), port_ok), repr(c.get(probe)))
    if "startupProbe" in c:
        check(name + " startupProbe is GET /health on the container port",
              health_probe_ok(c["startupProbe"], port_ok), repr(c["startupProbe"]))

    res = c.get("resources") or {}
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    try:
        same = (mebibytes(req.get("memory")) == mebibytes(lim.get("memory"))
                and cpus(req.get("cpu")) == cpus(lim.get("cpu")))
        mem, cpu = mebibytes(lim.get("memory")), cpus(lim.get("cpu"))
    except (ValueError, TypeError) as exc:
        check(name + " sets cpu and memory requests and limits", False, str(exc))
        return
    check(name + " requests equal limits (Guaranteed QoS)", same, "requests %r, limits %r" % (req, lim))
    need_mem = required_memory_mib(v)
    check(name + " memory covers every sandbox plus the daemon", mem >= need_mem,
          "%.0f MiB, want >= %d MiB" % (mem, need_mem))
    check(name + " has one CPU per sandbox", cpu >= num(v, "max-sandboxes"),
          "%s CPU for %s sandboxes" % (cpu, v["max-sandboxes"]))

    pause = 0
    pre = ((c.get("lifecycle") or {}).get("preStop") or {})
    cmd = (pre.get("exec") or {}).get("command") or []
    if len(cmd) == 2 and cmd[0].endswith("sleep"):
        pause = float(cmd[1])
    elif "sleep" in pre:
        pause = float(pre["sleep"].get("seconds", 0))
    grace = pod.get("terminationGracePeriodSeconds", 30)
    need = pause + num(v, "drain-ms") / 1000.0
    check(name + " terminationGracePeriodSeconds is above the preStop pause + --drain-ms",
          grace > need, "%r s, want > %.1f s" % (grace, need))

    sspec = svc.get("spec") or {}
    ssel = sspec.get("selector") or {}
    check(name + " Service selects the Deployment's pods",
          ssel and all(labels.get(k) == val for k, val in ssel.items()), "%r vs %r" % (ssel, labels))
    sports = sspec.get("ports") or []
    check(name + " Service targets the container port",
          sports and all(p.get("targetPort") in (cport, pname) for p in sports), repr(sports))

    hspec = hpa.get("spec") or {}
    ref = hspec.get("scaleTargetRef") or {}
    check(name + " HorizontalPodAutoscaler scales the Deployment",
          ref.get("kind") == "Deployment" and ref.get("name") == dep["metadata"]["name"], repr(ref))
    lo, hi = hspec.get("minReplicas", 1), hspec.get("maxReplicas")
    check(name + " HorizontalPodAutoscaler has 1 <= minReplicas <= maxReplicas and a metric",
          isinstance(hi, int) and 1 <= lo <= hi and hspec.get("metrics"), "%r..%r" % (lo, hi))


# --- README --------------------------------------------------------------------------------------

def shell_commands(text):
    """Commands in the text's sh code blocks, continuation lines joined, comments dropped."""
    cmds, block, lang = [], None, None
    for line in text.splitlines():
        fence = re.match(r"^\s*```\s*(\S*)", line)
        if fence and block is None:
            block, lang = [], fence.group(1)
        elif fence:
            if lang in ("", "sh", "bash", "shell", "console"):
                for cmd in re.sub(r"\\\n\s*", " ", "\n".join(block)).splitlines():
                    cmd = cmd.split(" #", 1)[0].strip()
                    if cmd and not cmd.startswith("#"):
                        cmds.append(cmd)
            block = None
        elif block is not None:
            block.append(line)
    return cmds


def opts(cmd, name):
    """Values of --name in a command: `--name v` and `--name=v`."""
    try:
        words = shlex.split(cmd)
    except ValueError:
        words = cmd.split()
    out = []
    for i, w in enumerate(words):
        if w == "--" + name and i + 1 < len(words):
            out.append(words[i + 1])
        elif w.startswith("--" + name + "="):
            out.append(w.split("=", 1)[1])
    return out


def dockerfile_local_flags(path):
    """The --security-opt values of the `docker run` that Dockerfile.local documents."""
    with open(path, encoding="utf-8") as f:
        lines = [ln[1:].strip() if ln.startswith("#") else "" for ln in f]
    text = "\n".join(lines)
    m = re.search(r"(docker run (?:[^\n]*\\\n)*[^\n]*)", text)
    return sorted(opts(re.sub(r"\\\n\s*", " ", m.group(1)), "security-opt")) if m else None


def check_readme(path, cloud_run, dockerfile_local):
    try:
        with open(path, encoding="utf-8") as f:
            cmds = shell_commands(f.read())
    except OSError as exc:
        print("# note: %s not read (%s): README checks skipped" % (path, exc))
        return
    deploys = [c for c in cmds if c.startswith("gcloud run deploy")]
    if not deploys:
        print("# note: README.md has no `gcloud run deploy` command: not compared")
    elif cloud_run:
        for key in ("memory", "cpu", "concurrency", "timeout", "execution-environment"):
            got = [opts(c, key) for c in deploys]
            want = str(cloud_run[key])
            if key == "timeout":
                ok = all(g and re.fullmatch(r"%ss?" % want, g[-1]) for g in got)
            else:
                ok = all(g and g[-1] == want for g in got)
            check("README gcloud run deploy --%s matches service.yaml (%s)" % (key, want), ok,
                  "README has %r" % got)
        for c in deploys:
            env = dict(kv.split("=", 1) for o in opts(c, "set-env-vars") for kv in o.split(",") if "=" in kv)
            check("README gcloud run deploy --set-env-vars matches service.yaml's env",
                  env == {k: str(val) for k, val in cloud_run["env"].items()},
                  "%r vs %r" % (env, cloud_run["env"]))
    # Runs that serve (publish a port); `docker run --rm pyexecd-local --help` needs no flags.
    runs = [c for c in cmds if re.match(r"(docker|podman) run\b", c) and "pyexecd-local" in c
            and re.search(r"(^|\s)(-p|--publish)[\s=]", c)]
    if not runs:
        print("# note: README.md has no `docker run -p ...` of pyexecd-local: not compared")
    elif dockerfile_local is not None:
        for c in runs:
            check("README `%s` uses the flags Dockerfile.local documents" % c[:40] + "...",
                  sorted(opts(c, "security-opt")) == dockerfile_local,
                  "%r vs %r" % (sorted(opts(c, "security-opt")), dockerfile_local))


def check_images_sh(path, dockerfile_local):
    """tests/images.sh runs the local image with exactly the documented flags."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return
    m = re.search(r"^LOCAL_FLAGS=\((.*?)\)", text, re.S | re.M)
    got = sorted(opts(re.sub(r"\s+", " ", m.group(1)), "security-opt")) if m else None
    check("tests/images.sh runs the local image with the flags Dockerfile.local documents",
          got == dockerfile_local, "%r vs %r" % (got, dockerfile_local))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pyexecd", help="daemon binary whose --help gives the defaults")
    p.add_argument("--deploy", default=os.path.join(ROOT, "modes", "cloud", "deploy"))
    p.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    args = p.parse_args()
    try:
        import yaml  # noqa: F401
    except ImportError:
        check("PyYAML is installed", False, "install the Debian package python3-yaml")
        return finish()
    binary = args.pyexecd
    if not binary:
        for cand in ("build/cloud/pyexecd", "build/local/pyexecd"):
            if os.access(os.path.join(ROOT, cand), os.X_OK):
                binary = os.path.join(ROOT, cand)
                break
    if not binary:
        check("a pyexecd binary for --help", False, "build one first (make) or pass --pyexecd")
        return finish()
    settings, why = load_settings(binary)
    if not check("`%s --help` lists the settings" % os.path.relpath(binary, ROOT), settings is not None, why):
        return finish()
    print("# defaults: " + ", ".join("--%s %s" % (k, settings.default[k]) for k in
                                     ("max-sandboxes", "queue-length", "memory-mb", "tmp-mb", "wall-ms",
                                      "queue-wait-ms", "request-ms", "drain-ms")))
    cloud_run = check_cloud_run(os.path.join(args.deploy, "service.yaml"), settings)
    check_kubernetes(os.path.join(args.deploy, "kubernetes.yaml"), settings)
    flags = None
    try:
        flags = dockerfile_local_flags(os.path.join(ROOT, "Dockerfile.local"))
    except OSError:
        pass
    check("Dockerfile.local documents a `docker run` with --security-opt flags", bool(flags), repr(flags))
    check_images_sh(os.path.join(HERE, "images.sh"), flags)
    check_readme(args.readme, cloud_run, flags)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
