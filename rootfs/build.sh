#!/bin/bash
# Builds pyexecd's read-only Python rootfs.
#
#   rootfs/build.sh OUT            full build into OUT.tmp, then renamed to OUT
#   rootfs/build.sh --harness OUT  reinstall and recompile only rootfs/harness.py in an existing OUT
#
# The packages of rootfs/packages.txt and their dependency closure are downloaded with apt from the
# host's own sources, into a private apt state (the host's package database is never touched), and
# unpacked with dpkg-deb. No maintainer script runs: the few things they would have done that
# matter at run time are done here by hand. Needs root (chroot, file ownership) but no user
# namespace and no mount, so it also runs inside `podman build --isolation=chroot`.
#
# Host tools: apt-get, dpkg, dpkg-deb, tar, chroot, ldconfig, find, xargs; all in a base Debian.

set -Eeuo pipefail
umask 022
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
# ldconfig lives in /sbin, which a non-login root shell may not have on its PATH.
export PATH=$PATH:/usr/sbin:/sbin

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
packages_txt=$here/packages.txt
harness_dir=/opt/pyexecd

step=start
step() { step=$1; echo "build.sh: $step" >&2; }
die() { echo "build.sh: FAILED in step '$step': $*" >&2; exit 1; }
trap 'echo "build.sh: FAILED in step '"'"'$step'"'"' (line $LINENO: $BASH_COMMAND)" >&2' ERR

# Run the rootfs's own interpreter, so the .pyc match its version and magic number.
# -I: ignore PYTHON* variables of the caller and the user site directory.
rootfs_python() { local root=$1; shift; chroot "$root" /usr/bin/python3 -I "$@" </dev/null; }

# unchecked-hash .pyc are used without looking at the source's mtime: the tree is read-only, and a
# copy that rewrites timestamps (podman build --timestamp, some image tools) would otherwise make
# every timestamp-based .pyc stale, silently tripling pandas' import time.
compile_opts=(-q --invalidation-mode unchecked-hash)

install_harness() {
    local root=$1 f
    step "install the harness and the zygote in $harness_dir"
    install -d -m 0755 -o root -g root "$root$harness_dir"
    for f in harness.py zygote.py; do
        install -m 0644 -o root -g root "$here/$f" "$root$harness_dir/$f.new"
        mv -f "$root$harness_dir/$f.new" "$root$harness_dir/$f"
    done
    # -f: the old .pyc carries no timestamp that would tell compileall it is stale.
    rootfs_python "$root" -m compileall "${compile_opts[@]}" -f "$harness_dir/harness.py" \
        "$harness_dir/zygote.py"
}

usage() { echo "usage: $0 [--harness] OUT" >&2; exit 2; }
harness_only=
if [ "${1-}" = --harness ]; then harness_only=1; shift; fi
if [ $# -ne 1 ] || [ -z "$1" ]; then usage; fi
[ "$(id -u)" -eq 0 ] || { echo "build.sh: must run as root (chroot, file ownership)" >&2; exit 1; }
out=$(realpath -m -- "$1")

if [ -n "$harness_only" ]; then
    [ -x "$out/usr/bin/python3" ] || die "$out is not a built rootfs; run a full build first"
    install_harness "$out"
    exit 0
fi

start=$SECONDS
tmp=$out.tmp
work=$out.work
old=$out.old
cleanup() {
    # A half-built tree must never be mistaken for a good one.
    rm -rf -- "$work" "$tmp" "$old"
}
trap cleanup EXIT
rm -rf -- "$tmp" "$work" "$old"
mkdir -p -- "$tmp" "$work"

step "read $packages_txt"
want=() skip=()
while read -r line; do
    line=${line%%#*}
    line=${line//[[:space:]]/}
    case $line in
        '') ;;
        !*) skip+=("${line#!}") ;;
        *) want+=("$line") ;;
    esac
done <"$packages_txt"
[ ${#want[@]} -gt 0 ] || die "no package listed"

step "download the packages and their dependency closure"
# A private apt state: an empty dpkg status, so apt resolves the whole closure as if nothing were
# installed, and its own lists and archive cache. The host's sources, keyrings and apt.conf.d
# (proxies, pinning) apply. Passed with -c, which apt reads after apt.conf.d, so the host's
# settings cannot override these.
arch=$(dpkg --print-architecture)
mkdir -p "$work/lists/partial" "$work/archives/partial"
: >"$work/status"
cat >"$work/apt.conf" <<EOF
Dir::State::status "$work/status";
Dir::State::lists "$work/lists";
Dir::Cache "$work/cache";
Dir::Cache::archives "$work/archives";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Architecture "$arch";
APT::Architectures { "$arch"; };
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
// Essential: yes packages come in only when something depends on them: apt would otherwise
// install all of them in some operations, with an empty status (mmdebstrap sets the same).
pkgCacheGen::ForceEssential ",";
EOF
# --error-on=any: a source that failed to update would otherwise leave stale or missing packages.
apt-get -c "$work/apt.conf" -q update --error-on=any </dev/null
apt-get -c "$work/apt.conf" -q -y --download-only install "${want[@]}" </dev/null

step "unpack the packages"
mkdir -p "$tmp$harness_dir"
manifest=$tmp$harness_dir/packages.manifest
: >"$manifest"
count=0
shopt -s nullglob
debs=("$work"/archives/*.deb)
[ ${#debs[@]} -gt 0 ] || die "apt downloaded nothing"
for deb in "${debs[@]}"; do
    name=$(dpkg-deb -f "$deb" Package)
    skipped=
    for s in "${skip[@]}"; do [ "$s" != "$name" ] || skipped=1; done
    [ -z "$skipped" ] || continue
    dpkg-deb -x "$deb" "$tmp"
    # shellcheck disable=SC2016 # dpkg-deb's ${Field}, not the shell's
    dpkg-deb --show --showformat='${Package} ${Version} ${Architecture}\n' "$deb" >>"$manifest"
    count=$((count + 1))
done
for s in "${skip[@]}"; do
    compgen -G "$work/archives/${s}_*.deb" >/dev/null ||
        echo "build.sh: warning: '!$s' in packages.txt is not in the dependency closure" >&2
done
sort -o "$manifest" "$manifest"

step "merge /bin, /sbin, /lib* into /usr"
# Debian 12 systems are merged-/usr (/bin -> usr/bin, ...), but dpkg-deb -x unpacks /lib/... as a
# real directory (it would even replace a pre-made symlink). Merge afterwards; tar -k refuses to
# overwrite, so a file shipped in both places fails the build instead of silently losing one copy.
for d in bin sbin lib lib32 lib64 libx32 libo32; do
    if [ ! -d "$tmp/$d" ] || [ -L "$tmp/$d" ]; then continue; fi
    mkdir -p "$tmp/usr/$d"
    tar -C "$tmp/$d" -cf - . | tar -C "$tmp/usr/$d" -xf - --keep-old-files
    rm -rf -- "${tmp:?}/$d"
    ln -s "usr/$d" "$tmp/$d"
done

step "do what the maintainer scripts would have done"
# libblas3/liblapack3 postinst: update-alternatives makes <multiarch>/libblas.so.3 point at
# <multiarch>/blas/libblas.so.3 (through /etc/alternatives); without it numpy cannot load.
# Point at the implementation directly: there is no alternatives database here.
for lib in blas lapack; do
    impls=("$tmp"/usr/lib/*/"$lib/lib$lib.so.3")
    [ ${#impls[@]} -gt 0 ] || die "no lib$lib.so.3 unpacked (is lib${lib}3 in packages.txt?)"
    for impl in "${impls[@]}"; do
        ln -sfn "$lib/lib$lib.so.3" "$(dirname "$(dirname "$impl")")/lib$lib.so.3"
    done
done
# tzdata postinst: the default time zone.
if [ -d "$tmp/usr/share/zoneinfo" ]; then
    ln -sfn /usr/share/zoneinfo/Etc/UTC "$tmp/etc/localtime"
    echo Etc/UTC >"$tmp/etc/timezone"
fi
# libc-bin (not in the closure) ships the /etc/ld.so.conf that ldconfig reads.
[ -e "$tmp/etc/ld.so.conf" ] || echo 'include /etc/ld.so.conf.d/*.conf' >"$tmp/etc/ld.so.conf"

step "remove what is not needed at run time"
rm -rf -- "$tmp"/usr/share/{doc,doc-base,man,info,locale,lintian,bug,menu,bash-completion} \
    "$tmp"/var/cache "$tmp"/var/lib/{apt,dpkg} "$tmp"/var/log "$tmp"/etc/alternatives
# Desktop entries, gdb pretty-printers, binfmt registrations; the debhelper add-on is Perl, and the
# rootfs has no Perl.
rm -rf -- "$tmp"/usr/share/{applications,pixmaps,gdb,gcc,binfmts,perl5,numpy3} "$tmp"/usr/bin/dh_numpy3
# Test suites: Python's own and the packages'. Nothing imports them except their test runners.
find "$tmp/usr/lib" -depth -type d \( -name test -o -name tests \) -path '*/python3*' \
    -exec rm -rf -- {} +

step "create the jail's mount points and files"
install -d -m 1777 "$tmp/tmp"
install -d -m 0755 "$tmp/proc" "$tmp/dev"
# Regular files on purpose: the jail bind-mounts the host's devices onto them.
for f in null zero urandom; do install -m 0644 /dev/null "$tmp/dev/$f"; done
# POSIX shared memory and semaphores (shm_open, sem_open: multiprocessing's locks) live in the
# request's own /tmp: private to it, within its cap, gone with it, in both jails.
ln -s ../tmp "$tmp/dev/shm"
# The jail runs scripts as `sandbox` (1000), or, when host uids are mapped 1:1, as the slot's own
# sandboxN (100000 + N).
{
    echo 'root:x:0:0:root:/root:/usr/sbin/nologin'
    echo 'sandbox:x:1000:1000:pyexecd sandbox:/tmp:/usr/sbin/nologin'
    for n in $(seq 0 63); do
        echo "sandbox$n:x:$((100000 + n)):$((100000 + n)):pyexecd sandbox slot $n:/tmp:/usr/sbin/nologin"
    done
    echo 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin'
} >"$tmp/etc/passwd"
{
    echo 'root:x:0:'
    echo 'sandbox:x:1000:'
    for n in $(seq 0 63); do echo "sandbox$n:x:$((100000 + n)):"; done
    echo 'nogroup:x:65534:'
} >"$tmp/etc/group"
echo sandbox >"$tmp/etc/hostname"
printf '127.0.0.1\tlocalhost sandbox\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$tmp/etc/hosts"
# Files only: glibc's default for hosts would try DNS, which the jail has no network for.
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' >"$tmp/etc/nsswitch.conf"

step "build the ld.so cache"
ldconfig -r "$tmp"

install_harness "$tmp"

step "precompile .pyc for the standard library and dist-packages"
# compileall -j would need /dev/shm (multiprocessing's semaphores), which the chroot lacks, so
# parallelise with xargs instead.
(cd "$tmp" && find usr/lib/python3* -name '*.py' -printf '/%p\0') |
    xargs -0 -r -n 400 -P "$(nproc)" chroot "$tmp" /usr/bin/python3 -I -m compileall "${compile_opts[@]}"

step "check that importing numpy and pandas needs no new .pyc"
marker=$work/before-import
touch "$marker"
sleep 0.01
rootfs_python "$tmp" -c '
import sys
sys.path.insert(0, "'"$harness_dir"'")
import numpy, pandas, harness
pandas.DataFrame({"a": [1, 2]}).describe()'
new=$(find "$tmp" -newer "$marker" -name '*.pyc' -printf '/%P\n')
[ -z "$new" ] || die "importing numpy and pandas wrote .pyc that the build did not: $new"

step "make the tree root-owned and read-only for everyone else"
echo "pyexecd rootfs; $count packages; built $(date -u +%FT%TZ)" >"$tmp/.pyexecd-stamp"
chown -hR 0:0 "$tmp"
find "$tmp" -perm /6000 ! -type l -exec chmod ug-s {} +
find "$tmp" -perm /022 ! -type l -exec chmod go-w {} +
chmod 1777 "$tmp/tmp"

step "replace $out"
# Two renames, so $out is missing only for an instant; a failed build never got here and left the
# previous $out in place.
if [ -e "$out" ]; then mv -T -- "$out" "$old"; fi
mv -T -- "$tmp" "$out"
rm -rf -- "$old"

echo "build.sh: built $out in $((SECONDS - start)) s: $count packages (listed in $harness_dir/packages.manifest), $(du -sh "$out" | cut -f1)"
