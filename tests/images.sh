#!/usr/bin/env bash
# Builds pyexecd's two container images with podman and tests them.
#
#   tests/images.sh [--worktree | --context DIR] [local] [cloud]
#
# Source: by default a clean clone of this repository's HEAD (what is committed); --worktree copies
# the working tree instead (tracked files plus untracked ones that are not ignored), --context
# uses DIR as it is. Without mode arguments both images are built and tested.
#
# For each image: `podman build --isolation=chroot` from that source (needs a local
# debian:bookworm-slim; when podman's store has none, a stand-in is made with mmdebstrap from
# Debian's archive), then checks of what the image holds (size, no compiler, no apt lists, a
# root-owned read-only rootfs, an exec-form entrypoint), then:
#   local  run with runc (or podman's default OCI runtime), Docker's default capability set and
#          the `docker run` flags Dockerfile.local documents: the API and hostile-script suites
#          against it on 127.0.0.1, then draining on SIGTERM. Run without its flags (and without
#          each one in turn), and under gVisor, it must refuse to start with a message that says
#          what is missing.
#   cloud  run under gVisor (runsc) as root with Docker's default capability set and no other
#          privilege, no pids limit (Docker's default, not podman's 2048: see CLOUD_PIDS), PORT
#          set as Cloud Run sets it, writes kept in memory as Cloud Run keeps them (runsc
#          --overlay): the same suites, then draining on SIGTERM. runsc's log is
#          kept in the work directory; a sentry panic is shown when the leg fails. Then again
#          under runc with a published port, as `docker run` would run it (the hostile,
#          isolation and corpus suites).
# Containers are always removed; images stay (localhost/pyexecd-MODE:test) so that later builds
# reuse their layers.
#
# Environment (all optional):
#   PYEXECD_IMAGES_RUNTIME   OCI runtime for the local image (default: runc if installed, else
#                            podman's default; crun refuses hosts with a hybrid cgroup layout)
#   PYEXECD_IMAGES_RUNSC     runsc binary for the cloud image (default /usr/bin/runsc)
#   PYEXECD_IMAGES_BUILD_S   bound for one image build (default 2400)
#   PYEXECD_IMAGES_EXTRA_RUN extra `podman run` options for both served containers, to diagnose
#                            (e.g. "--cap-add SYS_PTRACE"); CI leaves it empty
#   DEBIAN_MIRROR            for the debian:bookworm-slim stand-in (default http://deb.debian.org/debian)
#   DEBIAN_SECURITY_MIRROR   (default http://deb.debian.org/debian-security)
#   PYEXECD_TEST_SLACK_S     passed to the suites (default 5)
#   PYEXECD_IMAGES_GVISOR_WALL_MS, _CPU_S, _SLACK_S   --wall-ms, --cpu-s and slack of the cloud
#                            image under gVisor (default 15000, 8, 15: tests/matrix.sh's gVisor leg)
# Last line: `N passed, N failed`; the exit status is non-zero when anything failed.
# shellcheck disable=SC2016,SC2317 # single-quoted sh -c bodies and hooks on purpose; SC2317 is
# confused by the early exits above the functions
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3
BASE_IMAGE=docker.io/library/debian:bookworm-slim
RUNSC=${PYEXECD_IMAGES_RUNSC:-/usr/bin/runsc}
BUILD_S=${PYEXECD_IMAGES_BUILD_S:-2400}
SLACK_S=${PYEXECD_TEST_SLACK_S:-5}
# The seeds' images were 437 MB (local) and 735 MB (cloud); ours must be smaller.
declare -A SIZE_LIMIT_MB=([local]=437 [cloud]=735)
# podman's defaults (1048576 open files) exceed what this kind of host lets a container have.
ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
# Exactly what Dockerfile.local documents for `docker run`. podman accepts the same options.
LOCAL_FLAGS=(--security-opt seccomp=unconfined --security-opt apparmor=unconfined
    --security-opt systempaths=unconfined)
GVISOR=(--runtime="$RUNSC" --runtime-flag=network=host --network=host)
# Docker sets no pids limit; podman's default is 2048 tasks per container, counted on the host.
# Under runsc's ptrace platform (runsc 20221219's default) every address space of the sandbox is a
# host stub process with a thread for each sentry thread that ever ran it, and stubs are pooled,
# never freed: one 32-process fork bomb left ~1300 host tasks, two at once ~2150, repeated pairs
# ~10600 (then flat: 74 host processes, 157 sentry threads). A clone refused by pids.max makes the
# sentry panic: the container exits with status 2, nothing in its log. So: Docker's default.
CLOUD_PIDS=(--pids-limit=-1)
# Cloud Run keeps a container's file system writes in memory; runsc does so with --overlay (a
# memory-backed upper layer). Without it (runsc 20221219's default for containers) the container's
# file system is the gofer's, which refuses mknod: the slots' /dev/null, zero and urandom stay
# placeholder files a sandbox cannot write (/health: "devices" degraded).
CLOUD_OVERLAY=(--runtime-flag=overlay)
read -r -a EXTRA_RUN <<<"${PYEXECD_IMAGES_EXTRA_RUN:-}"
# Docker's default capability set, exactly (podman's default lacks AUDIT_WRITE, MKNOD and NET_RAW):
# both images are run with what `docker run` and Cloud Run give a container, no more.
DOCKER_CAPS=(--cap-drop=all)
for cap in AUDIT_WRITE CHOWN DAC_OVERRIDE FOWNER FSETID KILL MKNOD NET_BIND_SERVICE NET_RAW SETFCAP \
    SETGID SETPCAP SETUID SYS_CHROOT; do
    DOCKER_CAPS+=(--cap-add="$cap")
done

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1: $2"; }
# The last line, and the exit status: finish; exit $?
finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}

# --- arguments ----------------------------------------------------------------------------------
SOURCE=clone CONTEXT='' MODES=()
while [ $# -gt 0 ]; do
    case $1 in
    --worktree) SOURCE=worktree ;;
    --context) SOURCE=dir CONTEXT=${2:-}; shift ;;
    local | cloud) MODES+=("$1") ;;
    -h | --help) sed -n '2,/^# Last line/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--worktree | --context DIR] [local] [cloud]" >&2; echo "0 passed, 1 failed"; exit 2 ;;
    esac
    shift
done
[ ${#MODES[@]} -gt 0 ] || MODES=(local cloud)

if [ "$(id -u)" -ne 0 ]; then fail preconditions "must run as root (rootful podman)"; finish; exit; fi
for tool in podman git "$PY"; do
    command -v "$tool" >/dev/null || { fail preconditions "$tool is not installed"; finish; exit; }
done
if [ -n "${PYEXECD_IMAGES_RUNTIME:-}" ]; then
    LOCAL_RUNTIME=(--runtime="$PYEXECD_IMAGES_RUNTIME")
elif command -v runc >/dev/null; then
    LOCAL_RUNTIME=(--runtime="$(command -v runc)")
else
    LOCAL_RUNTIME=()
fi

WORK=$(mktemp -d /tmp/pyexecd-images.XXXXXX)
RUN_ID=$$
CONTAINERS=()
MOUNTED=()
cleanup() {
    local c
    for c in "${CONTAINERS[@]}"; do
        timeout 60 podman rm -f -t 0 "$c" >/dev/null 2>&1
    done
    for c in "${MOUNTED[@]}"; do
        podman image unmount "$c" >/dev/null 2>&1
    done
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

show_log() { # show_log FILE [LINES]
    echo "---- last ${2:-30} lines of $1 ----"
    tail -n "${2:-30}" "$1"
    echo "---- end ----"
}

# --- the source to build from -------------------------------------------------------------------
case $SOURCE in
clone)
    CONTEXT=$WORK/src
    if ! git clone --quiet --no-hardlinks "$ROOT" "$CONTEXT" 2>"$WORK/clone.log"; then
        fail source "git clone of $ROOT failed: $(tr '\n' ' ' <"$WORK/clone.log")"
        finish
        exit
    fi
    echo "# source: clean clone of $(git -C "$CONTEXT" log -1 --format='%h %s')"
    ;;
worktree)
    CONTEXT=$WORK/src
    mkdir -p "$CONTEXT"
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        xargs -0 -r cp --parents -a -t "$CONTEXT")
    echo "# source: working tree of $ROOT"
    ;;
dir)
    [ -d "$CONTEXT" ] || { fail source "--context $CONTEXT is not a directory"; finish; exit; }
    CONTEXT=$(cd "$CONTEXT" && pwd)
    echo "# source: $CONTEXT"
    ;;
esac

# --- the base image -----------------------------------------------------------------------------
# Real users pull debian:bookworm-slim from Docker Hub; here it is made from Debian's archive like
# the official one (minbase, merged /usr, no docs/man/locales, no apt lists).
ensure_base() {
    if podman image exists "$BASE_IMAGE"; then
        pass base_image_present
        return 0
    fi
    command -v mmdebstrap >/dev/null || { fail base_image "no $BASE_IMAGE and no mmdebstrap to make one"; return 1; }
    local mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
    local security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
    local t0=$SECONDS
    if timeout 900 mmdebstrap --variant=minbase --mode=root \
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        --dpkgopt='path-exclude=/usr/share/lintian/*' \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
        bookworm "$WORK/base.tar" \
        "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
        "deb $security bookworm-security main" </dev/null >"$WORK/mmdebstrap.log" 2>&1 &&
        podman import --change 'CMD ["bash"]' "$WORK/base.tar" "$BASE_IMAGE" >>"$WORK/mmdebstrap.log" 2>&1; then
        rm -f "$WORK/base.tar"
        pass base_image_made
        echo "# made a local $BASE_IMAGE stand-in in $((SECONDS - t0)) s"
        return 0
    fi
    rm -f "$WORK/base.tar"
    fail base_image "mmdebstrap/podman import failed"
    show_log "$WORK/mmdebstrap.log"
    return 1
}

# --- building and inspecting --------------------------------------------------------------------
build_image() { # build_image MODE
    local mode=$1 image=localhost/pyexecd-$1:test log=$WORK/build-$1.log t0=$SECONDS
    if [ ! -f "$CONTEXT/Dockerfile.$mode" ]; then
        fail "${mode}_image_builds" "no Dockerfile.$mode in the source"
        return 1
    fi
    if timeout "$BUILD_S" podman build --isolation=chroot --layers -f "$CONTEXT/Dockerfile.$mode" \
        -t "$image" "$CONTEXT" </dev/null >"$log" 2>&1; then
        pass "${mode}_image_builds"
        echo "# $image built in $((SECONDS - t0)) s"
        return 0
    fi
    fail "${mode}_image_builds" "podman build failed or took over ${BUILD_S}s"
    show_log "$log" 40
    return 1
}

# A test of the image's content, on the image's filesystem mounted read-only on the host.
image_check() { # image_check NAME COMMAND... (runs with $M set to the mount point)
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        pass "$name"
    else
        fail "$name" "$(printf '%s' "$out" | head -5 | tr '\n' ' ')"
    fi
}

inspect_image() { # inspect_image MODE
    local mode=$1 image=localhost/pyexecd-$1:test size mb entry
    size=$(podman image inspect --format '{{.Size}}' "$image")
    mb=$((size / 1000000))
    echo "# $image: $mb MB ($size bytes)"
    if [ "$mb" -lt "${SIZE_LIMIT_MB[$mode]}" ]; then
        pass "${mode}_image_is_smaller_than_${SIZE_LIMIT_MB[$mode]}_MB"
    else
        fail "${mode}_image_is_smaller_than_${SIZE_LIMIT_MB[$mode]}_MB" "$mb MB"
    fi
    entry=$(podman image inspect --format '{{json .Config.Entrypoint}}' "$image")
    # pyexecd itself, or behind an init that passes signals on (tini): never a shell.
    if [[ $entry == '["/usr/local/bin/pyexecd"'* || $entry == '["/usr/bin/tini","--","/usr/local/bin/pyexecd"'* ]]; then
        pass "${mode}_image_entrypoint_is_exec_form_pyexecd"
    else
        fail "${mode}_image_entrypoint_is_exec_form_pyexecd" "entrypoint $entry"
    fi
    if ! M=$(podman image mount "$image" 2>"$WORK/mount.log"); then
        fail "${mode}_image_mounts" "$(cat "$WORK/mount.log")"
        return
    fi
    MOUNTED+=("$image")
    local R=$M/opt/pyexecd/rootfs
    image_check "${mode}_image_has_daemon_and_rootfs" \
        test -x "$M/usr/local/bin/pyexecd" -a -x "$R/usr/bin/python3" -a -f "$R/.pyexecd-stamp"
    image_check "${mode}_image_has_no_compiler_or_build_tools" sh -c '
        found=$(find "$1/usr/bin" "$1/usr/local/bin" "$1/usr/libexec" -maxdepth 1 \
            \( -name "gcc*" -o -name "cc" -o -name "c99" -o -name "cpp*" -o -name "make" -o -name "ld" \
               -o -name "ld.bfd" -o -name "ld.gold" -o -name "as" -o -name "*-linux-gnu-*" \
               -o -name "pkg-config" -o -name "dpkg-buildpackage" \) 2>/dev/null)
        [ -z "$found" ] || { echo $found; exit 1; }
        [ -z "$(find "$1/usr/include" -name "*.h" 2>/dev/null | head -1)" ] || { echo "headers in /usr/include"; exit 1; }' - "$M"
    image_check "${mode}_image_has_no_apt_lists_or_caches" sh -c '
        found=$(find "$1/var/lib/apt/lists" "$1/var/cache/apt" -type f ! -name lock 2>/dev/null | head -3)
        [ -z "$found" ] || { echo $found; exit 1; }' - "$M"
    image_check "${mode}_image_rootfs_is_root_owned" sh -c '
        found=$(find "$1" \( ! -user 0 -o ! -group 0 \) -print | head -3)
        [ -z "$found" ] || { echo $found; exit 1; }' - "$R"
    image_check "${mode}_image_rootfs_is_not_writable_but_tmp" sh -c '
        found=$(find "$1" -path "$1/tmp" -prune -o -perm /022 ! -type l -print | head -3)
        [ -z "$found" ] || { echo $found; exit 1; }
        [ "$(stat -c %u:%a "$1")" = 0:755 ] || { stat -c "%u:%a %n" "$1"; exit 1; }' - "$R"
    podman image unmount "$image" >/dev/null 2>&1
}

# --- running ------------------------------------------------------------------------------------
# The limits the suites assume (as tests/run-suite.sh starts its daemons).
WALL_MS=5000 CPU_S=3 REQUEST_MS=3000 MEMORY_MB=256 MAX_SANDBOXES=2 QUEUE_LENGTH=32
OUT_BYTES=65536 DRAIN_MS=5000
SANDBOX_UID=$((200000 + 1000 * (RANDOM % 500)))
COMMON_ARGS=(--wall-ms "$WALL_MS" --cpu-s "$CPU_S" --request-ms "$REQUEST_MS"
    --max-sandboxes "$MAX_SANDBOXES" --queue-length "$QUEUE_LENGTH" --stdout-bytes "$OUT_BYTES"
    --stderr-bytes "$OUT_BYTES" --result-bytes "$OUT_BYTES" --script-bytes "$OUT_BYTES"
    --sandbox-uid "$SANDBOX_UID")
DAEMON_ARGS=("${COMMON_ARGS[@]}" --memory-mb "$MEMORY_MB" --drain-ms "$DRAIN_MS")
SUITE_ARGS=("${COMMON_ARGS[@]}" --slack-s "$SLACK_S")
# Under gVisor, as in tests/matrix.sh: everything goes slower in the sentry (the corpus's
# multiprocessing file took 3 s of CPU and 7 s of wall on a busy machine) and ending a fork bomb's
# hundreds of traced processes takes seconds more.
GVISOR_WALL_MS=${PYEXECD_IMAGES_GVISOR_WALL_MS:-15000} GVISOR_CPU_S=${PYEXECD_IMAGES_GVISOR_CPU_S:-8}
GVISOR_SLACK_S=${PYEXECD_IMAGES_GVISOR_SLACK_S:-15}
SECRET=pyexecd-secret-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
export PYEXECD_TEST_SECRET=$SECRET

# wait_health NAME PORT LIMIT_S: 0 when GET /health answers 200 while the container runs.
wait_health() {
    "$PY" - "$1" "$2" "$3" <<'EOF'
import http.client, subprocess, sys, time
name, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    state = subprocess.run(["podman", "inspect", "--format", "{{.State.Status}}", name],
                           capture_output=True, text=True, timeout=30).stdout.strip()
    if state not in ("running", "created", "configured", "initialized"):
        print("container is %s" % (state or "gone"))
        sys.exit(2)
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/health")
        r = c.getresponse()
        body = r.read()
        c.close()
        if r.status == 200:
            print(body.decode("utf-8", "replace"))
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
print("no 200 from GET /health within %.0fs" % limit)
sys.exit(1)
EOF
}

run_suite() { # run_suite NAME PORT SCRIPT [SUITE OPTIONS...]: adds the suite's totals
    local name=$1 port=$2 script=$3 out=$WORK/$1.out last
    shift 3
    echo "# $name"
    timeout -k 10 900 "$PY" "$HERE/$script" --url "http://127.0.0.1:$port" "${SUITE_ARGS[@]}" "$@" 2>&1 |
        tee "$out" | sed "s/^/  /"
    last=$(tail -n 1 "$out")
    if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        PASSED=$((PASSED + BASH_REMATCH[1]))
        FAILED=$((FAILED + BASH_REMATCH[2]))
        echo "# $name: $last"
    else
        fail "$name" "the suite did not finish (last line: $last)"
    fi
}

# drain NAME PORT: SIGTERM with a request running, as `docker stop` and Cloud Run send it. The
# running request must finish, a new one must be refused (503 or a closed port), and the container
# must exit 0 within the drain time plus a margin.
drain() {
    local name=$1 port=$2 out rc
    if out=$("$PY" - "$name" "$port" "$HERE" <<'EOF'
import subprocess, sys, threading, time
name, port, here = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sys.path.insert(0, here)
import testlib
testlib.CFG.url, testlib.CFG.port = "http://127.0.0.1:%d" % port, port
out = {}
def slow():
    try:
        out["resp"] = testlib.execute("import time\ndef main():\n    time.sleep(2)\n    return 'drained'\n",
                                      timeout=30)
    except Exception as exc:
        out["exc"] = exc
th = threading.Thread(target=slow, daemon=True)
th.start()
deadline = time.monotonic() + 15
while time.monotonic() < deadline:
    sb = (testlib.health(timeout=5).json or {}).get("sandboxes") or {}
    if sb.get("running", 0) >= 1:
        break
    time.sleep(0.05)
else:
    sys.exit("the slow request never showed as running")
subprocess.run(["podman", "kill", "--signal", "TERM", name], check=True, timeout=30,
               stdout=subprocess.DEVNULL)
time.sleep(0.3)
try:
    r = testlib.execute("def main():\n    return 'new'\n", timeout=10)
    if r.status != 503:
        sys.exit("a request after SIGTERM got %s, not 503" % r.describe())
except OSError:
    pass  # the listener is closed: also a refusal
th.join(30)
if "resp" not in out:
    sys.exit("the running request did not finish: %r" % out.get("exc"))
r = out["resp"]
if r.status != 200 or (r.json or {}).get("result") != "drained":
    sys.exit("the running request got %s" % r.describe())
EOF
    ); then
        pass "${name#pyexecd-images-*-}_drains_on_sigterm"
    else
        fail "${name#pyexecd-images-*-}_drains_on_sigterm" "$out"
    fi
    rc=$(timeout $((DRAIN_MS / 1000 + 20)) podman wait "$name" 2>/dev/null)
    if [ "$rc" = 0 ]; then
        pass "${name#pyexecd-images-*-}_exits_0_after_sigterm"
    else
        fail "${name#pyexecd-images-*-}_exits_0_after_sigterm" "exit status '${rc:-still running}'"
    fi
}

# leftovers NAME CONTAINER: after the suites, nothing of a finished request may be left in the
# container: no zombie (an orphan nobody reaps) and no process of a sandbox uid. Warm start's own
# processes run zygote.py as the daemon's or the zygote's children: the zygote and one ready
# sandbox per slot at most.
leftovers() {
    local name=$1 cname=$2 out t0=$SECONDS
    while :; do
        out=$(timeout 30 podman exec "$cname" /bin/sh -c '
            daemon= zygote= warm=0
            for d in /proc/[0-9]*; do
                case $(cat "$d/comm" 2>/dev/null) in
                pyexecd) daemon=${d#/proc/} ;;
                pyexecd-zygote) zygote=${d#/proc/} ;;
                esac
            done
            for d in /proc/[0-9]*; do
                s=$(cat "$d/stat" 2>/dev/null) || continue
                state=${s##*) }; state=${state%% *}
                ppid=${s##*) }; ppid=${ppid#* }; ppid=${ppid%% *}
                uid=$(awk "/^Uid:/ {print \$2}" "$d/status" 2>/dev/null)
                cmd=$(tr "\0" " " <"$d/cmdline" | cut -c1-60)
                if [ "$state" != Z ] && { [ "$ppid" = "$daemon" ] || [ "$ppid" = "$zygote" ]; } &&
                    case $cmd in *zygote.py*) true ;; *) false ;; esac; then
                    warm=$((warm + 1))
                elif [ "$state" = Z ] || [ "${uid:-0}" -ge "$1" ]; then
                    echo "pid ${d#/proc/} state $state uid $uid: $cmd"
                fi
            done
            [ "$warm" -le $(($2 + 1)) ] || echo "$warm warm-start processes for $2 slots"
            ' - "$SANDBOX_UID" "$MAX_SANDBOXES" 2>&1)
        if [ -z "$out" ] || [ $((SECONDS - t0)) -ge 5 ]; then break; fi
        sleep 0.5
    done
    if [ -z "$out" ]; then
        pass "${name}_leaves_no_zombies_or_sandbox_processes"
    else
        fail "${name}_leaves_no_zombies_or_sandbox_processes" "$(echo "$out" | head -5 | tr '\n' ';')"
    fi
}

# refuses NAME EXPECT RUN_OPTIONS... : the local image, started with RUN_OPTIONS, must exit non-zero
# within 60 s without serving, and its log must match the extended regex EXPECT.
refuses() {
    local name=$1 expect=$2 log=$WORK/$1.log rc
    shift 2
    local cname=pyexecd-images-$RUN_ID-$name
    CONTAINERS+=("$cname")
    timeout -k 5 60 podman run --name "$cname" "$@" localhost/pyexecd-local:test \
        --port "$(free_port)" >"$log" 2>&1 </dev/null
    rc=$?
    timeout 60 podman rm -f -t 0 "$cname" >/dev/null 2>&1
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] || grep -q 'listening on' "$log"; then
        fail "$name" "exit status $rc (0: served or exited cleanly; 124/137: still running after 60 s)"
        show_log "$log" 10
    elif ! grep -Eq "$expect" "$log"; then
        fail "$name" "exit status $rc, but the log does not match /$expect/"
        show_log "$log" 10
    else
        pass "$name"
        echo "  # $(grep -Em1 'refusing to start|self-test failed|error' "$log")"
    fi
}

test_local() {
    local image=localhost/pyexecd-local:test port cname=pyexecd-images-$RUN_ID-local
    local base=("${LOCAL_RUNTIME[@]}" "${ULIMITS[@]}" "${DOCKER_CAPS[@]}")
    # Without the flags: a clear refusal that names the step and points at Dockerfile.local.
    refuses local_without_flags_refuses_to_start 'refusing to start|self-test failed' "${base[@]}"
    refuses local_without_flags_message_points_at_dockerfile_local 'Dockerfile\.local' "${base[@]}"
    # Each flag is needed: without it the daemon refuses too (AppArmor only where it is enabled).
    refuses local_without_seccomp_unconfined_refuses 'refusing to start|self-test failed' "${base[@]}" \
        --security-opt apparmor=unconfined --security-opt systempaths=unconfined
    refuses local_without_systempaths_unconfined_refuses 'refusing to start|self-test failed' "${base[@]}" \
        --security-opt seccomp=unconfined --security-opt apparmor=unconfined
    if [ "$(podman info --format '{{.Host.Security.AppArmorEnabled}}' 2>/dev/null)" = true ]; then
        refuses local_without_apparmor_unconfined_refuses 'refusing to start|self-test failed' "${base[@]}" \
            --security-opt seccomp=unconfined --security-opt systempaths=unconfined
    else
        echo "# (AppArmor is not enabled on this host: apparmor=unconfined has no effect here)"
    fi
    # Under gVisor the local jail cannot work: it must say so and name the cloud image.
    if [ -x "$RUNSC" ]; then
        refuses local_under_gvisor_refuses_and_names_the_cloud_build 'cloud build|MODE=cloud|Dockerfile\.cloud' \
            "${GVISOR[@]}" "${ULIMITS[@]}" "${DOCKER_CAPS[@]}"
    fi

    port=$(free_port)
    CONTAINERS+=("$cname")
    if ! podman run -d --name "$cname" "${base[@]}" "${LOCAL_FLAGS[@]}" "${EXTRA_RUN[@]}" -p "127.0.0.1:$port:8080" \
        -e PYEXECD_TEST_SECRET="$SECRET" "$image" "${DAEMON_ARGS[@]}" >"$WORK/run-local.log" 2>&1; then
        fail local_container_starts "$(tail -n 3 "$WORK/run-local.log" | tr '\n' ' ')"
        return
    fi
    local health
    if health=$(wait_health "$cname" "$port" 60); then
        pass local_container_serves_health_on_127.0.0.1
        echo "  # $health"
    else
        fail local_container_serves_health_on_127.0.0.1 "$health"
        podman logs "$cname" >"$WORK/local.log" 2>&1
        show_log "$WORK/local.log"
        return
    fi
    local before=$FAILED
    run_suite local_api_test "$port" api_test.py
    run_suite local_hostile_test "$port" hostile_test.py
    run_suite local_isolation_test "$port" isolation_test.py
    run_suite local_corpus_test "$port" corpus_test.py
    leftovers local "$cname"
    drain "$cname" "$port"
    podman logs "$cname" >"$WORK/local.log" 2>&1
    [ "$FAILED" -eq "$before" ] || show_log "$WORK/local.log"
}

# cloud_identity NAME PORT: the hostile suite's sandbox_process_runs_as_a_sandbox_host_uid, seen
# from the container. That test looks for the sandbox in /proc where the suite runs; a runsc
# container's processes live in gVisor's kernel, so the host never shows them. The container's
# /proc is the view from outside the jail there: the same checks on it.
cloud_identity() {
    local out
    if out=$("$PY" - "$1" "$2" "$HERE" "$SANDBOX_UID" "$MAX_SANDBOXES" <<'EOF'
import secrets, subprocess, sys, threading, time
name, port, here, lo, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
sys.path.insert(0, here)
import testlib
testlib.CFG.url, testlib.CFG.port = "http://127.0.0.1:%d" % port, port
comm = "pxt" + secrets.token_hex(5)
out = {}
def run():
    try:
        out["resp"] = testlib.execute("import ctypes, time\ndef main():\n"
                                      "    ctypes.CDLL(None).prctl(15, %r.encode(), 0, 0, 0)\n"
                                      "    time.sleep(2)\n    return 'named'\n" % comm, timeout=30)
    except Exception as exc:
        out["exc"] = exc
th = threading.Thread(target=run, daemon=True)
th.start()
found = ""
deadline = time.monotonic() + 10
while not found and th.is_alive() and time.monotonic() < deadline:
    found = subprocess.run(["podman", "exec", name, "/bin/sh", "-c",
                            'for d in /proc/[0-9]*; do [ "$(cat "$d/comm" 2>/dev/null)" = "$1" ] && '
                            'cat "$d/status" && break; done', "-", comm],
                           capture_output=True, text=True, timeout=30).stdout
th.join(30)
r = out.get("resp")
if r is None or r.status != 200 or (r.json or {}).get("result") != "named":
    sys.exit("the request failed: %s" % (r.describe() if r is not None else repr(out.get("exc"))))
if not found:
    sys.exit("the sandbox process was not found in the container's /proc by its name")
st = dict(line.split(":", 1) for line in found.splitlines() if ":" in line)
ids = [int(x) for x in st["Uid"].split() + st["Gid"].split()]
if not all(lo <= i < lo + n for i in ids):
    sys.exit("uids/gids %r must be slot ids in [%d, %d)" % (ids, lo, lo + n))
if int(st["CapEff"].strip(), 16) != 0 or int(st["CapPrm"].strip(), 16) != 0:
    sys.exit("CapEff %s, CapPrm %s: must be 0" % (st["CapEff"].strip(), st["CapPrm"].strip()))
if "NoNewPrivs" in st and st["NoNewPrivs"].strip() != "1":  # gVisor has no such line
    sys.exit("NoNewPrivs must be 1")
if st.get("Seccomp", "").strip() != "2":
    sys.exit("Seccomp must be 2 (filter), is %r" % st.get("Seccomp"))
EOF
    ); then
        pass cloud_sandbox_runs_as_a_slot_uid_in_the_containers_proc
    else
        fail cloud_sandbox_runs_as_a_slot_uid_in_the_containers_proc "$out"
    fi
}

# show_cloud_end NAME: how the cloud container ended, and a gVisor sentry panic if there was one.
show_cloud_end() {
    local state
    state=$(podman inspect --format '{{.State.Status}} (exit status {{.State.ExitCode}})' "$1" 2>/dev/null)
    echo "# cloud container: ${state:-gone}"
    grep -h -A 5 -E '^(panic|fatal error):' "$WORK"/runsc/*boot* 2>/dev/null | head -n 6 | sed 's/^/#   runsc: /'
}

# test_cloud RUNTIME: the cloud image under gVisor (as on Cloud Run) or runc (as under Docker).
test_cloud() {
    local rt=$1 image=localhost/pyexecd-cloud:test port cname=pyexecd-images-$RUN_ID-cloud-$1 health
    local run=() leg=cloud DAEMON_ARGS=("${DAEMON_ARGS[@]}") SUITE_ARGS=("${SUITE_ARGS[@]}")
    port=$(free_port)
    if [ "$rt" = gvisor ]; then
        DAEMON_ARGS+=(--wall-ms "$GVISOR_WALL_MS" --cpu-s "$GVISOR_CPU_S")
        SUITE_ARGS+=(--wall-ms "$GVISOR_WALL_MS" --cpu-s "$GVISOR_CPU_S" --slack-s "$GVISOR_SLACK_S")
        if [ ! -x "$RUNSC" ]; then
            fail cloud_container_starts "no gVisor runtime at $RUNSC (Debian package runsc)"
            return
        fi
        # As Cloud Run runs it: root, default capabilities, PORT in the environment. The host
        # network (the only way to reach a runsc container here) is shared, so bind to loopback
        # only. runsc's own log (info level: cheap) keeps a sentry panic, which the container's
        # log never shows.
        mkdir -p "$WORK/runsc"
        run=("${GVISOR[@]}" --runtime-flag=debug-log="$WORK/runsc/" "${CLOUD_OVERLAY[@]}"
            -e PORT="$port" -e PYEXECD_BIND=127.0.0.1)
    else
        # As `docker run` runs it: runc, Docker's default capabilities, a published port.
        leg=cloud_runc
        run=("${LOCAL_RUNTIME[@]}" -p "127.0.0.1:$port:8080")
    fi
    CONTAINERS+=("$cname")
    if ! podman run -d --name "$cname" "${run[@]}" "${CLOUD_PIDS[@]}" "${ULIMITS[@]}" "${DOCKER_CAPS[@]}" \
        "${EXTRA_RUN[@]}" -e PYEXECD_TEST_SECRET="$SECRET" "$image" "${DAEMON_ARGS[@]}" \
        >"$WORK/run-$leg.log" 2>&1; then
        fail ${leg}_container_starts "$(tail -n 3 "$WORK/run-$leg.log" | tr '\n' ' ')"
        return
    fi
    if health=$(wait_health "$cname" "$port" 90); then
        pass ${leg}_container_serves_health_on_PORT_under_$rt
        echo "  # $health"
    else
        fail ${leg}_container_serves_health_on_PORT_under_$rt "$health"
        podman logs "$cname" >"$WORK/$leg.log" 2>&1
        show_log "$WORK/$leg.log"
        [ "$rt" = gvisor ] && show_cloud_end "$cname"
        return
    fi
    local before=$FAILED
    [ "$rt" = gvisor ] && run_suite ${leg}_api_test "$port" api_test.py
    run_suite ${leg}_hostile_test "$port" hostile_test.py --skip sandbox_process_runs_as_a_sandbox_host_uid
    run_suite ${leg}_isolation_test "$port" isolation_test.py
    run_suite ${leg}_corpus_test "$port" corpus_test.py
    [ "$rt" = gvisor ] && cloud_identity "$cname" "$port"
    leftovers $leg "$cname"
    drain "$cname" "$port"
    podman logs "$cname" >"$WORK/$leg.log" 2>&1
    if [ "$FAILED" -ne "$before" ]; then
        show_log "$WORK/$leg.log"
        [ "$rt" = gvisor ] && show_cloud_end "$cname"
    fi
}

# --- main ---------------------------------------------------------------------------------------
echo "# podman $(podman version --format '{{.Client.Version}}' 2>/dev/null)," \
    "local runtime: ${LOCAL_RUNTIME[*]:-podman default}, gVisor: $RUNSC${EXTRA_RUN[*]:+, extra run options: ${EXTRA_RUN[*]}}"
if ensure_base; then
    for mode in "${MODES[@]}"; do
        if build_image "$mode"; then
            inspect_image "$mode"
            if [ "$mode" = cloud ]; then test_cloud gvisor; test_cloud runc; else test_local; fi
        fi
    done
fi
rm -rf "$WORK/src"
if [ "$FAILED" -eq 0 ]; then rm -rf "$WORK"; else echo "# logs kept in $WORK"; fi
finish
exit
