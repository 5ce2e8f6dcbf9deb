# Install tests of packaging/test.sh, sourced by it and run inside private
# mount and PID namespaces (unshare): every mount made here and every process
# started here goes away with the namespace. Expects test.sh's helpers
# (check, eq, pass, fail, log, no_mounts_under, elapsed) and WORK, CACHE,
# SUITE, ROOT_PKGS, GO, REPO, DEBIAN_MIRROR.
# shellcheck shell=bash disable=SC2016

PIDS=()
cleanup_pids() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
}

# prepare_root DIR: a fresh Debian root from the cached debootstrap tarball
# (made on the first run).
prepare_root() {
	local dir=$1 t0=$SECONDS
	if [[ ! -s $CACHE || "$(cat "$CACHE.pkgs" 2>/dev/null)" != "$SUITE $ROOT_PKGS" ]]; then
		local tmp=$WORK/debootstrap m
		log "debootstrap $SUITE from $DEBIAN_MIRROR (no cached root yet)"
		no_mounts_under "$tmp"
		rm -rf "$tmp"
		if ! timeout 1200 debootstrap --variant=minbase --include="$ROOT_PKGS" "$SUITE" "$tmp" \
			"$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1; then
			tail -n 20 "$WORK/debootstrap.log"
			echo "test.sh: debootstrap failed (log: $WORK/debootstrap.log)" >&2
			return 1
		fi
		timeout 60 chroot "$tmp" apt-get clean
		for m in $(findmnt -rn -o TARGET | grep "^$tmp/" | sort -r); do umount -l "$m"; done
		timeout 300 tar -C "$tmp" --numeric-owner -cf "$CACHE.tmp" .
		mv "$CACHE.tmp" "$CACHE"
		echo "$SUITE $ROOT_PKGS" >"$CACHE.pkgs"
		rm -rf "$tmp"
		echo "debootstrap + cache: $(elapsed "$t0")"
		t0=$SECONDS
	fi
	no_mounts_under "$dir"
	rm -rf "$dir"
	mkdir -p "$dir"
	timeout 300 tar -C "$dir" --numeric-owner -xpf "$CACHE"
	echo "root $dir from $(basename "$CACHE"): $(elapsed "$t0")"
}

# make_upgrade_deb DEB OUT: the same package with a higher version, to test
# upgrades.
make_upgrade_deb() {
	local d=$WORK/upgrade-tree
	rm -rf "$d"
	dpkg-deb -R "$1" "$d"
	sed -i 's/^Version: \(.*\)$/Version: \1+pkgtest1/' "$d/DEBIAN/control"
	dpkg-deb --root-owner-group -Zxz -b "$d" "$2" >/dev/null
	rm -rf "$d"
}

# wait_for FILE REGEX SECONDS: until a line of FILE matches.
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# wait_after FILE N REGEX SECONDS: until a line after the first N matches.
wait_after() {
	local i
	for ((i = 0; i < $4 * 10; i++)); do
		tail -n +"$(($2 + 1))" "$1" | grep -E "$3" >/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# notify_test ROOT UID GID: deskgated from the installed tree, as systemd
# would run it (its user, umask, $STATE_DIRECTORY, $RUNTIME_DIRECTORY,
# watchdog), in its own network namespace, with a fake NOTIFY_SOCKET.
notify_test() {
	local root=$1 uid=$2 gid=$3 nlog=$WORK/notify.log recv dpid rc
	log "daemon with a fake NOTIFY_SOCKET (chroot, own network namespace)"
	install -d -o "$uid" -g "$gid" -m 0750 "$root/run/deskgate"
	install -d -o "$uid" -g "$gid" -m 0700 "$root/var/lib/deskgate"
	: >"$nlog"
	"$WORK/notifyrecv" -socket "$root/run/notify.sock" -out "$nlog" -timeout 120s &
	recv=$!
	PIDS+=("$recv")
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -S $root/run/notify.sock ]] && break
		sleep 0.1
	done
	# unshare, sh, env, chroot and deskgated are one process: $! is the daemon.
	unshare --net sh -c 'ip link set lo up && umask 0027 && exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		NOTIFY_SOCKET=/run/notify.sock STATE_DIRECTORY=/var/lib/deskgate RUNTIME_DIRECTORY=/run/deskgate \
		WATCHDOG_USEC=2000000 WATCHDOG_PID=$$ \
		chroot --userspec="$2" --groups="$3" "$1" /usr/bin/deskgated -config /etc/deskgate/deskgate.yaml' \
		sh "$root" "$uid:$gid" "$gid" 2>"$WORK/daemon.log" &
	dpid=$!
	PIDS+=("$dpid")

	check "READY=1" wait_for "$nlog" '(^|\|)READY=1(\||$)' 20
	check "STATUS= with READY=1" grep -Eq '(^|\|)READY=1\|STATUS=.+' "$nlog"
	check "WATCHDOG=1 (WATCHDOG_USEC=2s)" wait_for "$nlog" '^WATCHDOG=1$' 5
	local st=(chroot "$root" stat -c)
	eq "control.sock srw-rw---- deskgate:deskgate" \
		"$("${st[@]}" '%A %U:%G' /run/deskgate/control.sock 2>&1)" "srw-rw---- deskgate:deskgate"
	eq "state.db 600 deskgate:deskgate" "$("${st[@]}" '%a %U:%G' /var/lib/deskgate/state.db 2>&1)" "600 deskgate:deskgate"
	check "deskgatectl status (root)" timeout 10 chroot "$root" deskgatectl status
	chroot "$root" useradd -M -G deskgate dgadmin
	chroot "$root" useradd -M dgoutsider
	check "deskgatectl status (member of group deskgate)" \
		timeout 10 chroot "$root" setpriv --reuid=dgadmin --regid=dgadmin --init-groups deskgatectl status
	check "deskgatectl refused to a non-member" \
		eval "! timeout 10 chroot '$root' setpriv --reuid=dgoutsider --regid=dgoutsider --init-groups deskgatectl status 2>/dev/null"

	local n
	n=$(wc -l <"$nlog")
	kill -HUP "$dpid"
	check "SIGHUP: RELOADING=1 with MONOTONIC_USEC" wait_after "$nlog" "$n" '^RELOADING=1\|MONOTONIC_USEC=[0-9]+' 10
	n=$(grep -n '^RELOADING=1' "$nlog" | tail -n1 | cut -d: -f1)
	check "SIGHUP: READY=1 after RELOADING=1" wait_after "$nlog" "${n:-0}" '(^|\|)READY=1' 10
	check "deskgatectl reload" timeout 30 chroot "$root" deskgatectl reload

	kill -TERM "$dpid"
	rc=0
	timeout 10 tail --pid="$dpid" -f /dev/null || rc=$?
	if ((rc == 0)); then
		wait "$dpid" && rc=0 || rc=$?
		eq "SIGTERM: exit status" "$rc" 0
	else
		fail "SIGTERM: still running after 10 s"
		kill -KILL "$dpid" 2>/dev/null || true
	fi
	check "SIGTERM: STOPPING=1" grep -Eq '(^|\|)STOPPING=1' "$nlog"
	kill "$recv" 2>/dev/null || true
	wait "$recv" 2>/dev/null || true
	sed 's/^/     notify: /' "$nlog" | cut -c1-160
	if ((FAILS)); then sed 's/^/     daemon: /' "$WORK/daemon.log" | tail -n 20; fi
}

# lifecycle_dpkg ROOT: upgrade, remove, purge with dpkg (no service manager).
lifecycle_dpkg() {
	local root=$1 v
	log "upgrade, remove, purge (dpkg in the chroot)"
	cp "$WORK/upgrade.deb" "$root/tmp/deskgate-upgrade.deb"
	v=$(dpkg-deb -f "$WORK/upgrade.deb" Version)
	echo "# local edit (package-test)" >>"$root/etc/deskgate/office.yaml"
	check "upgrade: dpkg -i" timeout 180 chroot "$root" env DEBIAN_FRONTEND=noninteractive \
		dpkg -i --force-confdef --force-confold /tmp/deskgate-upgrade.deb
	eq "upgrade: version" "$(chroot "$root" dpkg-query -W -f '${Version}' deskgate)" "$v"
	check "upgrade: the admin's edit of office.yaml is kept" grep -q '^# local edit' "$root/etc/deskgate/office.yaml"
	eq "upgrade: deskgate.yaml still 640 root:deskgate" \
		"$(chroot "$root" stat -c '%a %U:%G' /etc/deskgate/deskgate.yaml)" "640 root:deskgate"
	check "remove: dpkg -r" timeout 120 chroot "$root" dpkg -r deskgate
	eq "remove: status" "$(chroot "$root" dpkg-query -W -f '${Status}' deskgate)" "deinstall ok config-files"
	check "remove: binaries gone" test ! -e "$root/usr/bin/deskgated"
	check "remove: state kept" test -f "$root/var/lib/deskgate/state.db"
	check "remove: conffiles kept" test -f "$root/etc/deskgate/deskgate.yaml"
	check "purge: dpkg -P" timeout 120 chroot "$root" dpkg -P deskgate
	check "purge: /var/lib/deskgate deleted" test ! -e "$root/var/lib/deskgate"
	check "purge: /etc/deskgate deleted" test ! -e "$root/etc/deskgate"
	check "purge: unit no longer enabled" test ! -L "$root/etc/systemd/system/multi-user.target.wants/deskgated.service"
	check "purge: user deskgate kept (Debian practice)" chroot "$root" getent passwd deskgate
}

chroot_tests() {
	local deb=$1 root=$WORK/root pw uid gid home shell
	log "chroot: install $(basename "$deb")"
	prepare_root "$root"
	mount -t proc proc "$root/proc"
	printf '#!/bin/sh\n# package-test: no service starts in the chroot\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 0755 "$root/usr/sbin/policy-rc.d"
	cp "$deb" "$root/tmp/deskgate.deb"
	check "dpkg -i" timeout 180 chroot "$root" env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/deskgate.deb
	eq "dpkg status" "$(chroot "$root" dpkg-query -W -f '${Status}' deskgate)" "install ok installed"
	eq "dpkg --audit" "$(chroot "$root" dpkg --audit)" ""
	pw=$(chroot "$root" getent passwd deskgate || true)
	IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
	check "system user deskgate (uid ${uid:-none} < 1000)" eval "[[ -n '$uid' ]] && ((uid > 0 && uid < 1000))"
	eq "deskgate home and shell" "$home $shell" "/var/lib/deskgate /usr/sbin/nologin"
	eq "group deskgate" "$(chroot "$root" getent group deskgate | cut -d: -f3)" "$gid"
	local st=(chroot "$root" stat -c '%a %U:%G')
	eq "deskgate.yaml 640 root:deskgate" "$("${st[@]}" /etc/deskgate/deskgate.yaml)" "640 root:deskgate"
	eq "office.yaml 644 root:root" "$("${st[@]}" /etc/deskgate/office.yaml)" "644 root:root"
	eq "binaries 755 root:root" "$("${st[@]}" /usr/bin/deskgated) $("${st[@]}" /usr/bin/deskgatectl)" \
		"755 root:root 755 root:root"
	eq "unit enabled (multi-user.target.wants)" \
		"$(readlink "$root/etc/systemd/system/multi-user.target.wants/deskgated.service")" \
		/lib/systemd/system/deskgated.service
	check "deskgated -check on the shipped config, as user deskgate" timeout 10 \
		chroot --userspec="$uid:$gid" --groups="$gid" "$root" /usr/bin/deskgated -check -config /etc/deskgate/deskgate.yaml
	eq "systemd-analyze verify" \
		"$(timeout 60 chroot "$root" systemd-analyze verify /lib/systemd/system/deskgated.service 2>&1)" ""
	notify_test "$root" "$uid" "$gid"
	lifecycle_dpkg "$root"
	umount "$root/proc"
}

# nspawn_tests DEB: boot the root with systemd-nspawn; packaging/boottest.sh
# runs inside as a service and powers the container off.
nspawn_tests() {
	local deb=$1 root=$WORK/root-boot rc=0 t0=$SECONDS
	log "systemd-nspawn --boot: the service under systemd"
	prepare_root "$root"
	cp "$deb" "$root/root/deskgate.deb"
	cp "$WORK/upgrade.deb" "$root/root/deskgate-upgrade.deb"
	install -m 0755 "$REPO/packaging/boottest.sh" "$root/root/boottest.sh"
	cat >"$root/etc/systemd/system/deskgate-boottest.service" <<-'EOF'
		[Unit]
		Description=deskgate package test
		[Service]
		Type=simple
		ExecStart=/root/boottest.sh
		StandardOutput=journal+console
		[Install]
		WantedBy=multi-user.target
	EOF
	ln -s /etc/systemd/system/deskgate-boottest.service \
		"$root/etc/systemd/system/multi-user.target.wants/deskgate-boottest.service"
	# nspawn keeps its state in /run/systemd/nspawn; where /run is not a
	# tmpfs (some containers) give it one, in this namespace only.
	[[ $(findmnt -n -o FSTYPE /run || true) == tmpfs ]] || mount -t tmpfs -o mode=0755 tmpfs /run
	timeout -k 10 300 systemd-nspawn -D "$root" --boot --private-network --register=no --keep-unit \
		--console=pipe </dev/null >"$WORK/nspawn.log" 2>&1 || rc=$?
	echo "nspawn exit $rc after $(elapsed "$t0")"
	if [[ ! -f $root/root/boottest.out ]] || ! grep -q '^BOOTED' "$root/root/boottest.out"; then
		echo "SKIP systemd-nspawn --boot: the container did not boot on this machine (exit $rc):"
		sed 's/^/     nspawn: /' "$WORK/nspawn.log" | tail -n 15
		[[ ${PACKAGE_TEST_NSPAWN:-auto} == yes ]] && fail "systemd-nspawn --boot required (PACKAGE_TEST_NSPAWN=yes)"
		return 0
	fi
	local line
	while IFS= read -r line; do
		case $line in
		"ok "*) pass "boot: ${line#ok }" ;;
		"FAIL "*) fail "boot: ${line#FAIL }" ;;
		*) echo "     $line" ;;
		esac
	done <"$root/root/boottest.out"
	grep -q '^DONE' "$root/root/boottest.out" || {
		fail "boot: the in-container test did not finish (log: $root/root/boottest.log)"
		tail -n 20 "$root/root/boottest.log" | sed 's/^/     /'
	}
	if grep -q '^FAIL' "$root/root/boottest.out"; then
		tail -n 40 "$root/root/boottest.log" | sed 's/^/     boottest: /'
	fi
}

in_namespace() {
	local deb=$1 t0=$SECONDS
	trap cleanup_pids EXIT
	FAILS=0
	mkdir -p "$WORK"
	CGO_ENABLED=0 "$GO" build -o "$WORK/notifyrecv" "$REPO/packaging/testdata/notifyrecv"
	make_upgrade_deb "$deb" "$WORK/upgrade.deb"
	chroot_tests "$deb"
	echo "chroot tests: $(elapsed "$t0")"
	if [[ ${PACKAGE_TEST_NSPAWN:-auto} != no ]]; then
		t0=$SECONDS
		nspawn_tests "$deb"
		echo "nspawn tests: $(elapsed "$t0")"
	fi
	if [[ ${KEEP:-} != 1 ]]; then
		no_mounts_under "$WORK/root" && rm -rf "$WORK/root"
		no_mounts_under "$WORK/root-boot" && rm -rf "$WORK/root-boot"
		rm -f "$WORK/upgrade.deb"
	fi
	return "$FAILS"
}
