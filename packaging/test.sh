#!/bin/bash
# shellcheck disable=SC2016 # single-quoted $ is literal in greps and dpkg-query formats
# Tests of the deskgate .deb (make package-test). Needs root (debootstrap,
# chroot, namespaces). Usage:
#
#   packaging/test.sh [DEB...]        default: every build/dist/deskgate_*.deb
#
# 1. each package: lintian (no error or warning; overrides need a reason, see
#    packaging/lintian-overrides), file list and modes, control fields,
#    conffiles, maintainer scripts, binaries (static, right architecture,
#    every linked Go module covered by the copyright file), man pages and
#    changelog, and the shipped configuration passes `deskgated -check`;
# 2. the unit: `systemd-analyze security` exposure <= 2.0;
# 3. in a Debian 12 root made with debootstrap (cached in
#    build/debroot-bookworm.tar) the package of this machine's architecture:
#    install with dpkg, files, user, permissions, `deskgated -check` as the
#    deskgate user, `systemd-analyze verify`; the daemon run as systemd
#    would, with a fake NOTIFY_SOCKET (READY=1, WATCHDOG=1, RELOADING=1 /
#    READY=1 on SIGHUP, STOPPING=1 and exit 0 on SIGTERM, control socket
#    permissions); upgrade, remove and purge with dpkg;
# 4. the same root booted with systemd-nspawn (packaging/boottest.sh runs
#    inside): the service enabled and started on install, active (READY=1)
#    under the unit's sandbox, listening, discovery on a test LAN, no
#    warnings logged, reload, a rejected reload, the low-port drop-in, a
#    clean stop, restart on upgrade, stop on remove, state kept on remove and
#    deleted on purge. Skipped, with the exact error, when systemd cannot
#    boot a container on this machine (PACKAGE_TEST_NSPAWN=yes: a failure).
#
# Environment: PACKAGE_TEST_NSPAWN=auto|yes|no (auto), DEBIAN_MIRROR (default:
# the first Debian URI in /etc/apt/sources.list*), KEEP=1 keeps build/pkgtest.
# Every step has a timeout; mounts live in a private mount namespace and
# processes in a private PID namespace, so nothing outlives the script.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
WORK=$REPO/build/pkgtest
CACHE=$REPO/build/debroot-bookworm.tar
SUITE=bookworm
# Packages the cached root gets besides minbase: systemd to boot it,
# man-db for systemd-analyze verify's man: checks, iproute2 for a test LAN
# interface in the container (discovery under the unit's sandbox).
ROOT_PKGS=systemd,systemd-sysv,man-db,iproute2
GO=${GO:-go}
export WORK CACHE SUITE ROOT_PKGS GO REPO

log() { printf '\n== %s\n' "$*"; }
FAILS=0
pass() { printf 'ok   %s\n' "$1"; }
fail() {
	printf 'FAIL %s\n' "$*"
	FAILS=$((FAILS + 1))
}
# check NAME CMD...: runs CMD (bounded by the caller), records the result.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
# eq NAME GOT WANT
eq() {
	if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1: got '$2', want '$3'"; fi
}
# no_mounts_under DIR: refuse to rm -rf a tree something is mounted in.
no_mounts_under() {
	if findmnt -rn -o TARGET | grep "^$1\(/\|$\)" >/dev/null; then
		echo "test.sh: something is mounted under $1; not removing it" >&2
		return 1
	fi
}
elapsed() { echo "$((SECONDS - $1))s"; }

# ---------------------------------------------------------------- tools
need_tools() {
	local missing=()
	command -v lintian >/dev/null || missing+=(lintian)
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	command -v systemd-analyze >/dev/null || missing+=(systemd)
	command -v file >/dev/null || missing+=(file)
	command -v man >/dev/null || missing+=(man-db)
	command -v ip >/dev/null || missing+=(iproute2)
	if [[ ${PACKAGE_TEST_NSPAWN:-auto} != no ]] && ! command -v systemd-nspawn >/dev/null; then
		missing+=(systemd-container)
	fi
	if ((${#missing[@]})); then
		log "installing ${missing[*]}"
		timeout 300 apt-get update -q
		DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q --no-install-recommends "${missing[@]}"
	fi
}

debian_mirror() {
	if [[ -n ${DEBIAN_MIRROR:-} ]]; then
		echo "$DEBIAN_MIRROR"
		return
	fi
	local m
	m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)
	echo "${m:-http://deb.debian.org/debian}"
}

# ---------------------------------------------------------------- 1. packages
# Non-directory entries of the package: mode owner path (sizes and times vary).
EXPECTED_FILES="-rw-r--r-- root/root ./etc/deskgate/deskgate.yaml
-rw-r--r-- root/root ./etc/deskgate/office.yaml
-rw-r--r-- root/root ./lib/systemd/system/deskgated.service
-rwxr-xr-x root/root ./usr/bin/deskgatectl
-rwxr-xr-x root/root ./usr/bin/deskgated
-rw-r--r-- root/root ./usr/lib/sysusers.d/deskgate.conf
-rw-r--r-- root/root ./usr/share/doc/deskgate/changelog.Debian.gz
-rw-r--r-- root/root ./usr/share/doc/deskgate/copyright
-rw-r--r-- root/root ./usr/share/lintian/overrides/deskgate
-rw-r--r-- root/root ./usr/share/man/man8/deskgatectl.8.gz
-rw-r--r-- root/root ./usr/share/man/man8/deskgated.8.gz"

# gzip_is_reproducible FILE: no stored name, no timestamp (gzip -n).
gzip_is_reproducible() {
	local hdr
	hdr=$(od -An -tx1 -N8 "$1" | tr -d ' \n')
	# 1f8b08, FLG=00 (no FNAME), MTIME=00000000
	[[ $hdr == 1f8b0800000000* && ${hdr:8:8} == 00000000 ]]
}

check_package() {
	local deb=$1 name arch version x
	name=$(basename "$deb" .deb)
	arch=${name##*_}
	version=${name#deskgate_}
	version=${version%_*}
	x=$WORK/extract/$arch
	log "package $name"
	rm -rf "$x"
	mkdir -p "$x/data" "$x/control"

	# --show-overrides makes lintian 2.116 count overridden errors in its exit
	# status, so the verdict comes from the tags it prints: E: and W: fail,
	# O: (overridden, with the reason as N: lines) and I: do not.
	local out rc=0
	out=$(timeout 300 lintian --fail-on none --display-info --pedantic --show-overrides "$deb" 2>&1) || rc=$?
	out=$(grep -v 'running with root privileges' <<<"$out" || true)
	grep -E '^[EWIPO]: ' <<<"$out" | sed 's/^/     lintian: /' || true
	if ((rc != 0)); then
		fail "lintian: exit $rc"
	elif grep -Eq '^[EW]: ' <<<"$out"; then
		fail "lintian: errors or warnings"
	else
		pass "lintian: no errors or warnings"
	fi

	local files
	files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $1, $2, $6}' | sort)
	eq "file list" "$files" "$(sort <<<"$EXPECTED_FILES")"
	eq "directories root-owned 0755" \
		"$(dpkg-deb -c "$deb" | awk '$1 ~ /^d/ && ($1 != "drwxr-xr-x" || $2 != "root/root")' | head -n3)" ""

	eq "control: Package" "$(dpkg-deb -f "$deb" Package)" deskgate
	eq "control: Version" "$(dpkg-deb -f "$deb" Version)" "$version"
	eq "control: Architecture" "$(dpkg-deb -f "$deb" Architecture)" "$arch"
	eq "control: Section/Priority" "$(dpkg-deb -f "$deb" Section Priority | tr '\n' ' ')" "Section: net Priority: optional "
	check "control: Depends on systemd (sysusers)" grep -q '^systemd\b' <<<"$(dpkg-deb -f "$deb" Depends)"
	check "control: Maintainer set" test -n "$(dpkg-deb -f "$deb" Maintainer)"

	dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$x/control"
	eq "control archive members" "$(cd "$x/control" && find . -type f | sort | tr '\n' ' ')" \
		"./conffiles ./control ./md5sums ./postinst ./postrm ./prerm "
	eq "conffiles" "$(cat "$x/control/conffiles")" $'/etc/deskgate/deskgate.yaml\n/etc/deskgate/office.yaml'
	local s
	for s in postinst prerm postrm; do
		check "$s: executable, same as packaging/$s, sh -n" \
			eval "[[ -x '$x/control/$s' ]] && cmp -s '$x/control/$s' 'packaging/$s' && sh -n '$x/control/$s'"
	done
	check "postinst: sysusers, enable, start/restart" grep -q 'systemd-sysusers.*deskgate.conf' "$x/control/postinst"
	check "postinst: deb-systemd-helper enable" grep -q 'deb-systemd-helper enable' "$x/control/postinst"
	check "postinst: deb-systemd-invoke start|restart" grep -q 'deb-systemd-invoke \$_dh_action' "$x/control/postinst"
	check "prerm: stop on remove" grep -q 'deb-systemd-invoke stop' "$x/control/prerm"
	check "postrm: purge deletes /var/lib/deskgate" grep -q 'rm -rf "${DPKG_ROOT:-}/var/lib/deskgate"' "$x/control/postrm"

	dpkg-deb -x "$deb" "$x/data"
	check "md5sums match" eval "(cd '$x/data' && md5sum --quiet -c '$x/control/md5sums')"
	local f
	for f in etc/deskgate/deskgate.yaml:packaging/deskgate.yaml etc/deskgate/office.yaml:packaging/office.yaml \
		lib/systemd/system/deskgated.service:systemd/deskgated.service \
		usr/lib/sysusers.d/deskgate.conf:packaging/sysusers.conf \
		usr/share/doc/deskgate/copyright:packaging/copyright \
		usr/share/lintian/overrides/deskgate:packaging/lintian-overrides; do
		check "${f%%:*} is ${f#*:}" cmp -s "$x/data/${f%%:*}" "${f#*:}"
	done

	local elf want_elf
	case $arch in
	amd64) want_elf="x86-64" ;;
	arm64) want_elf="ARM aarch64" ;;
	esac
	for f in deskgated deskgatectl; do
		elf=$(file -b "$x/data/usr/bin/$f")
		check "$f: static $want_elf ELF" eval "[[ '$elf' == *'$want_elf'*'statically linked'* ]]"
		local info
		info=$("$GO" version -m "$x/data/usr/bin/$f")
		check "$f: CGO_ENABLED=0 GOARCH=$arch -trimpath" eval \
			"grep -q 'CGO_ENABLED=0' <<<'$info' && grep -q 'GOARCH=$arch' <<<'$info' && grep -q -- '-trimpath=true' <<<'$info'"
		local mod uncovered=""
		while read -r mod; do
			grep -q "vendor/${mod%/v[0-9]*}/" packaging/copyright || uncovered+=" $mod"
		done < <(awk '$1 == "dep" {print $2}' <<<"$info")
		eq "$f: every linked Go module is in copyright" "$uncovered" ""
	done

	for f in usr/share/doc/deskgate/changelog.Debian.gz usr/share/man/man8/deskgated.8.gz usr/share/man/man8/deskgatectl.8.gz; do
		check "$f: gzip -9n (no name, no time)" gzip_is_reproducible "$x/data/$f"
	done
	eq "changelog: top entry is the package version" \
		"$(zcat "$x/data/usr/share/doc/deskgate/changelog.Debian.gz" | sed -n '1s/^deskgate (\([^)]*\)).*/\1/p')" "$version"
	for f in deskgated deskgatectl; do
		eq "man $f.8: no groff warnings" \
			"$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$x/data/usr/share/man/man8/$f.8.gz" 2>&1 >/dev/null)" ""
	done

	if [[ $arch == "$(dpkg --print-architecture)" ]]; then
		local etc=$x/data/etc/deskgate
		check "deskgated -version" eval "timeout 10 '$x/data/usr/bin/deskgated' -version | grep '^deskgated ' >/dev/null"
		check "shipped deskgate.yaml + office.yaml pass deskgated -check" \
			timeout 10 "$x/data/usr/bin/deskgated" -check -config "$etc/deskgate.yaml"
		# The check must be able to fail: an unknown key is an error.
		cp "$etc/deskgate.yaml" "$x/typo.yaml"
		cp "$etc/office.yaml" "$x/office.yaml"
		echo "sip_typo: 1" >>"$x/typo.yaml"
		check "deskgated -check rejects an unknown key" \
			eval "! timeout 10 '$x/data/usr/bin/deskgated' -check -config '$x/typo.yaml' >/dev/null"
	fi
}

# ---------------------------------------------------------------- 2. unit
check_unit_security() {
	local unit=$1 out score
	log "systemd-analyze security $(basename "$unit")"
	out=$(timeout 60 systemd-analyze security --offline=true --no-pager "$unit" 2>&1 || true)
	score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")
	grep -E '✗|Overall' <<<"$out" | sed 's/^/     /'
	if [[ -z $score ]]; then
		fail "systemd-analyze security: no overall exposure level in its output"
	elif awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }'; then
		pass "exposure $score <= 2.0"
	else
		fail "exposure $score > 2.0"
	fi
}

# ---------------------------------------------------------------- 3. root
main() {
	if (($(id -u) != 0)); then
		echo "test.sh: needs root (debootstrap, chroot, namespaces): sudo make package-test" >&2
		exit 2
	fi
	local debs=("$@")
	if ((${#debs[@]} == 0)); then
		shopt -s nullglob
		debs=("$REPO"/build/dist/deskgate_*.deb)
		shopt -u nullglob
	fi
	if ((${#debs[@]} == 0)); then
		echo "test.sh: no package in build/dist: run make deb first" >&2
		exit 2
	fi
	local start=$SECONDS
	need_tools
	mkdir -p "$WORK"
	local deb native=""
	for deb in "${debs[@]}"; do
		check_package "$deb"
		[[ $deb == *_"$(dpkg --print-architecture)".deb ]] && native=$deb
	done
	check_unit_security systemd/deskgated.service
	if [[ -z $native ]]; then
		fail "no package for $(dpkg --print-architecture): the install tests need one"
	else
		log "install tests of $(basename "$native") (in private mount and PID namespaces)"
		local rc=0
		DEBIAN_MIRROR=$(debian_mirror) timeout -k 10 1500 \
			unshare --mount --propagation private --pid --fork --mount-proc --kill-child \
			"$REPO/packaging/test.sh" --in-namespace "$native" || rc=$?
		((rc == 0)) || fail "install tests: $rc failure(s) (exit $rc)"
	fi
	[[ ${KEEP:-} == 1 ]] || rm -rf "$WORK/extract"
	log "package-test: $FAILS failure(s), $(elapsed "$start")"
	((FAILS == 0))
}

if [[ ${1:-} == --in-namespace ]]; then
	# shellcheck source=packaging/test-install.sh
	source "$REPO/packaging/test-install.sh"
	shift
	in_namespace "$@"
	exit $?
fi
main "$@"
