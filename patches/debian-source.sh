#!/usr/bin/env bash
# Fetches and unpacks one Debian source package for pyexecd's patched third-party builds.
#
#   patches/debian-source.sh fetch   PACKAGE VERSION DIR   download PACKAGE=VERSION into DIR
#   patches/debian-source.sh extract PACKAGE VERSION DIR DEST
#                                    unpack it into DEST (which must not exist)
#
# Only Debian's archive is used, through apt, the way a chroot builder does it: a private apt
# configuration (own sources.list with a deb-src line, own lists and cache under DIR/apt) so the
# host's apt state is neither needed nor touched.
#
# Verification is apt's and dpkg-source's default chain, made explicit:
#   1. apt-get update checks the suite's InRelease signature against Debian's archive keyring
#      (signed-by below), and the Sources index against the hashes in InRelease;
#   2. apt-get source checks every downloaded file (.dsc, tarballs) against the SHA256 the
#      Sources index gives; this script checks them once more against `--print-uris`, so a file
#      that is present is a file Debian's archive signed for;
#   3. dpkg-source -x checks the tarballs against the .dsc's checksums, and the .dsc's own OpenPGP
#      signature when a Debian keyring is installed (the debian-keyring package; without it
#      dpkg-source warns and relies on 1-2, as it does by default).
#
# If the archive cannot serve a file of the source package (seen: deb.debian.org answering 404 for
# libevhtp_1.2.18-2.debian.tar.xz while serving the .dsc and the .orig tarball), fetch records it in
# DIR/MISSING and extract falls back to the verified .orig tarball alone, which means Debian's own
# patches (debian/patches) are NOT applied. It says so loudly; set PYEXECD_REQUIRE_DEBIAN_DIFF=1 to
# make that an error instead.
set -euo pipefail

die() { echo "debian-source: $*" >&2; exit 1; }
[ $# -ge 4 ] || die "usage: $0 fetch PACKAGE VERSION DIR | extract PACKAGE VERSION DIR DEST"
cmd=$1 pkg=$2 version=$3 dir=$4
SUITE=${PYEXECD_DEBIAN_SUITE:-bookworm}
MIRROR=${PYEXECD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
upstream=${version%-*}
upstream=${upstream#*:}
dsc=${pkg}_${version#*:}.dsc

fetch() {
    local apt=$dir/apt
    [ -r "$KEYRING" ] || die "$KEYRING is missing (Debian package debian-archive-keyring)"
    rm -rf "$dir"
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/sources.list.d" \
        "$apt/preferences.d" "$dir/files"
    dir=$(cd "$dir" && pwd)
    apt=$dir/apt
    echo "deb-src [signed-by=$KEYRING] $MIRROR $SUITE main" >"$apt/sources.list"
    # Everything apt reads or writes is under DIR/apt, except its configuration (proxies etc.)
    # and the dpkg status file, which it only reads.
    local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/sources.list.d"
        -o "Dir::Etc::Preferences=$apt/preferences" -o "Dir::Etc::PreferencesParts=$apt/preferences.d"
        -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
        -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "APT::Get::Only-Source=true"
        # apt's defaults, stated so that no host configuration can weaken them
        -o "Acquire::AllowInsecureRepositories=false"
        -o "Acquire::AllowDowngradeToInsecureRepositories=false"
        -o "APT::Get::AllowUnauthenticated=false")
    # As root apt downloads as the unprivileged _apt user, which must be able to write there.
    if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
        chown -R _apt "$apt/lists/partial" "$apt/cache/archives/partial" "$dir/files"
    fi
    echo "debian-source: apt-get update ($MIRROR $SUITE main, deb-src only)"
    apt-get "${opts[@]}" -q update >"$dir/apt-update.log" 2>&1 ||
        { cat "$dir/apt-update.log" >&2; die "apt-get update failed"; }
    # The files and hashes of PACKAGE=VERSION, as the signed Sources index lists them.
    (cd "$dir/files" && apt-get "${opts[@]}" -q source --print-uris "$pkg=$version") >"$dir/uris" ||
        die "$pkg=$version is not in $SUITE's Sources index"
    awk '$1 ~ /^\047/ && $4 ~ /^SHA256:/ {sub(/^SHA256:/, "", $4); print $4 "  " $2}' "$dir/uris" \
        >"$dir/SHA256SUMS"
    [ -s "$dir/SHA256SUMS" ] || die "no SHA256 for $pkg=$version in the Sources index"
    grep -q "  $dsc\$" "$dir/SHA256SUMS" || die "the Sources index lists no $dsc"
    # A file the archive fails to serve makes apt-get exit non-zero: the checks below decide.
    (cd "$dir/files" && apt-get "${opts[@]}" -q source --download-only "$pkg=$version") \
        >"$dir/apt-source.log" 2>&1 || true
    local hash name missing=()
    while read -r hash name; do
        if [ -e "$dir/files/$name" ]; then
            echo "$hash  $name" | (cd "$dir/files" && sha256sum --quiet -c -) ||
                die "$name does not match the SHA256 of the signed Sources index"
        else
            missing+=("$name")
        fi
    done <"$dir/SHA256SUMS"
    if [ ${#missing[@]} -gt 0 ]; then
        grep -E '^(E:|Err:|  [0-9]{3} )' "$dir/apt-source.log" >&2 || cat "$dir/apt-source.log" >&2
        case " ${missing[*]} " in *" $dsc "* | *.orig.tar.*) die "could not download ${missing[*]}" ;; esac
        printf '%s\n' "${missing[@]}" >"$dir/MISSING"
        echo "debian-source: WARNING: the archive did not serve ${missing[*]}" >&2
        [ "${PYEXECD_REQUIRE_DEBIAN_DIFF:-0}" != 1 ] || die "PYEXECD_REQUIRE_DEBIAN_DIFF=1: giving up"
    fi
    touch "$dir/FETCHED" # last: a complete, verified download
    echo "debian-source: $pkg $version fetched and verified into $dir/files"
}

extract() {
    local dest=$1 orig
    [ ! -e "$dest" ] || die "$dest exists"
    [ -e "$dir/FETCHED" ] || die "run fetch first"
    if [ ! -e "$dir/MISSING" ]; then
        dpkg-source -x "$dir/files/$dsc" "$dest"
        return
    fi
    [ "${PYEXECD_REQUIRE_DEBIAN_DIFF:-0}" != 1 ] || die "$(cat "$dir/MISSING") missing"
    # The .orig tarball was checked against the Sources index by fetch; check it against the .dsc
    # too, as dpkg-source would.
    orig=$(awk '/^Checksums-Sha256:/ {f = 1; next} /^[^ ]/ {f = 0} f && $3 ~ /\.orig\.tar\./ {print $3}' \
        "$dir/files/$dsc")
    [ -n "$orig" ] && [ -e "$dir/files/$orig" ] || die "no .orig tarball in $dsc"
    awk -v o="$orig" '/^Checksums-Sha256:/ {f = 1; next} /^[^ ]/ {f = 0} f && $3 == o {print $1 "  " $3}' \
        "$dir/files/$dsc" | (cd "$dir/files" && sha256sum --quiet -c -) || die "$orig does not match $dsc"
    echo "debian-source: WARNING: $(tr '\n' ' ' <"$dir/MISSING")could not be downloaded:" \
        "unpacking $orig WITHOUT Debian's patches (debian/patches of $pkg $version)" >&2
    mkdir -p "$dest"
    tar -xf "$dir/files/$orig" -C "$dest" --strip-components=1 --no-same-owner
    echo "$pkg $version: upstream $upstream only; not applied: Debian's debian/ ($(tr '\n' ' ' <"$dir/MISSING")was not served)" \
        >"$dest/.pyexecd-debian-diff-missing"
}

case $cmd in
fetch) fetch ;;
extract) [ $# -eq 5 ] || die "usage: $0 extract PACKAGE VERSION DIR DEST"; extract "$5" ;;
*) die "unknown command $cmd" ;;
esac
