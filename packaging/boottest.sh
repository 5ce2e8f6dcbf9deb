#!/bin/bash
# Runs inside the Debian 12 container that packaging/test.sh boots with
# systemd-nspawn (as deskgate-boottest.service): installs the package with
# the service manager running and checks the service through its life.
# Results go to /root/boottest.out ("ok NAME" / "FAIL NAME: why", then DONE);
# details to /root/boottest.log. Powers the container off when done.
set -uo pipefail

OUT=/root/boottest.out
exec >/root/boottest.log 2>&1
echo BOOTED >"$OUT"
trap 'systemctl --no-block --check-inhibitors=no poweroff' EXIT

pass() { echo "ok $1" >>"$OUT"; }
fail() { echo "FAIL $*" >>"$OUT"; }
check() {
	local name=$1
	shift
	echo "+ $name: $*"
	if "$@"; then pass "$name"; else fail "$name"; fi
}
eq() {
	if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1: got '$2', want '$3'"; fi
}
prop() { systemctl show -P "$1" deskgated.service; }
# wait_state STATE SECONDS: until the unit's ActiveState is STATE.
wait_state() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[[ $(prop ActiveState) == "$1" ]] && return 0
		sleep 0.1
	done
	return 1
}
# listening PROTO HEXPORT: a socket bound to the port (LISTEN for tcp).
listening() {
	if [[ $1 == tcp ]]; then
		awk -v p=":$2" 'substr($2, length($2) - 4) == p && $4 == "0A" {f = 1} END {exit !f}' /proc/net/tcp /proc/net/tcp6
	else
		awk -v p=":$2" 'substr($2, length($2) - 4) == p {f = 1} END {exit !f}' /proc/net/udp /proc/net/udp6
	fi
}
dpkg_i() { timeout 180 env DEBIAN_FRONTEND=noninteractive dpkg -i --force-confdef --force-confold "$1"; }
score() {
	systemd-analyze security --no-pager deskgated.service |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}

# journal_has REGEX SECONDS: until the daemon's journal has a matching line.
journal_has() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		journalctl -u deskgated --no-pager | grep -E "$1" >/dev/null && return 0
		sleep 0.1
	done
	return 1
}

echo "system: $(timeout 60 systemctl is-system-running --wait)"
# A LAN for discovery (mDNS, SIP PnP multicast) inside the container's own
# network namespace: a veth pair, both ends up (no dummy driver everywhere),
# and a multicast route, which a LAN's default route gives a real box (the
# mDNS library joins its groups on the default interface).
check "test LAN interface" eval 'ip link add dgtest0 type veth peer name dgtest1 &&
	ip addr add 192.0.2.10/24 dev dgtest0 && ip addr add 192.0.2.11/24 dev dgtest1 && ip link set dgtest1 up && ip link set dgtest0 up &&
	ip route add 224.0.0.0/4 dev dgtest0'

# Install: enabled and started by postinst, READY=1 (Type=notify: active
# means the daemon sent READY=1).
check "install: dpkg -i" dpkg_i /root/deskgate.deb
check "install: enabled" systemctl is-enabled --quiet deskgated.service
check "install: started, active (READY=1)" wait_state active 30
eq "Type=notify" "$(prop Type)" notify
eq "WatchdogUSec" "$(prop WatchdogUSec)" 30s
check "STATUS= text" test -n "$(prop StatusText)"
pid=$(prop MainPID)
eq "MemoryMax=512M" "$(prop MemoryMax)" 536870912
check "GOMEMLIMIT=256MiB in the daemon's environment" eval "tr '\\0' '\\n' <'/proc/$pid/environ' | grep -qx GOMEMLIMIT=256MiB"
eq "runs as deskgate" "$(stat -c %U "/proc/$pid")" deskgate
eq "/run/deskgate/control.sock srw-rw---- deskgate:deskgate" \
	"$(stat -c '%A %U:%G' /run/deskgate/control.sock)" "srw-rw---- deskgate:deskgate"
eq "/var/lib/deskgate 700 deskgate:deskgate" "$(stat -c '%a %U:%G' /var/lib/deskgate)" "700 deskgate:deskgate"
check "state.db" test -f /var/lib/deskgate/state.db
check "SIP listening on udp/5060" listening udp 13C4
check "SIP listening on tcp/5060" listening tcp 13C4
check "provisioning listening on tcp/8080" listening tcp 1F90
check "deskgatectl status" timeout 10 deskgatectl status
check "discovery: SIP PnP listening (multicast under the sandbox)" journal_has 'sip pnp listening' 5
check "discovery: mDNS advertising (multicast under the sandbox)" journal_has 'mdns advertising' 5
eq "no warnings or errors in the daemon's log" \
	"$(journalctl -u deskgated --no-pager -o cat | grep -E 'level=(WARN|ERROR)' | head -n 3)" ""
useradd -M -G deskgate dgadmin
useradd -M dgoutsider
check "deskgatectl as a member of group deskgate" timeout 10 runuser -u dgadmin -- deskgatectl status
check "deskgatectl refused to a non-member" eval '! timeout 10 runuser -u dgoutsider -- deskgatectl status'
check "journal has the daemon's log" eval 'journalctl -u deskgated --no-pager | grep "deskgated ready" >/dev/null'
s=$(score)
echo "systemd-analyze security (online): $s"
check "systemd-analyze security (online) ${s:-?} <= 2.0" awk -v s="${s:-99}" 'BEGIN { exit !(s <= 2.0) }'
eq "systemd-analyze verify" "$(systemd-analyze verify deskgated.service 2>&1)" ""

# Reload: synchronous, same process; a rejected directory fails the reload
# and the daemon keeps running on the previous one.
check "systemctl reload" timeout 30 systemctl reload deskgated.service
eq "reload keeps the process" "$(prop MainPID)" "$pid"
cp /etc/deskgate/office.yaml /root/office.yaml.good
echo "bogus_key: 1" >>/etc/deskgate/office.yaml
check "reload of an invalid directory fails" eval '! timeout 30 systemctl reload deskgated.service'
eq "still active after a rejected reload" "$(prop ActiveState)" active
check "status names the rejected change" eval 'deskgatectl status | grep bogus_key >/dev/null'
cp /root/office.yaml.good /etc/deskgate/office.yaml
check "reload after the fix" timeout 30 systemctl reload deskgated.service

# A port below 1024 needs the drop-in documented in the unit (SIP on 506
# here; provisioning on 80 is the same case).
cp -p /etc/deskgate/deskgate.yaml /root/deskgate.yaml.good
sed -i 's/^  listen: \["udp:0.0.0.0:5060", "tcp:0.0.0.0:5060"\]/  listen: ["udp:0.0.0.0:506", "tcp:0.0.0.0:506"]/' \
	/etc/deskgate/deskgate.yaml
check "config edited to port 506" grep -q '"udp:0.0.0.0:506"' /etc/deskgate/deskgate.yaml
timeout 30 systemctl restart deskgated.service
check "port 506 without CAP_NET_BIND_SERVICE: fails" eval '! wait_state active 3'
check "port 506 without CAP_NET_BIND_SERVICE: permission denied" \
	eval 'journalctl -u deskgated --no-pager | grep "506.*permission denied" >/dev/null'
mkdir -p /etc/systemd/system/deskgated.service.d
printf '[Service]\nAmbientCapabilities=CAP_NET_BIND_SERVICE\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n' \
	>/etc/systemd/system/deskgated.service.d/low-ports.conf
systemctl daemon-reload
systemctl reset-failed deskgated.service
timeout 30 systemctl restart deskgated.service
check "port 506 with the low-ports drop-in: active" wait_state active 10
check "SIP listening on udp/506" listening udp 01FA
rm -r /etc/systemd/system/deskgated.service.d
cp -p /root/deskgate.yaml.good /etc/deskgate/deskgate.yaml
systemctl daemon-reload
timeout 30 systemctl restart deskgated.service
check "back on 5060: active" wait_state active 10

# Clean stop: SIGTERM, exit status 0 (a stop past TimeoutStopSec would be
# Result=timeout).
check "systemctl stop" timeout 30 systemctl stop deskgated.service
eq "stop: Result" "$(prop Result)" success
eq "stop: exit status" "$(prop ExecMainStatus)" 0
timeout 30 systemctl start deskgated.service
check "started again" wait_state active 10

# Upgrade: restarted on the new package; the admin's edits kept.
echo "# local edit (package-test)" >>/etc/deskgate/office.yaml
pid=$(prop MainPID)
check "upgrade: dpkg -i" dpkg_i /root/deskgate-upgrade.deb
check "upgrade: active" wait_state active 30
check "upgrade: restarted (new process)" test "$(prop MainPID)" != "$pid"
check "upgrade: office.yaml edit kept" grep -q '^# local edit' /etc/deskgate/office.yaml

# Remove: stopped, state and configuration kept. Purge: both deleted.
pid=$(prop MainPID)
check "remove: dpkg -r" timeout 120 dpkg -r deskgate
check "remove: daemon stopped" test ! -e "/proc/$pid"
check "remove: state kept" test -f /var/lib/deskgate/state.db
check "remove: configuration kept" test -f /etc/deskgate/deskgate.yaml
check "purge: dpkg -P" timeout 120 dpkg -P deskgate
check "purge: state deleted" test ! -e /var/lib/deskgate
check "purge: configuration deleted" test ! -e /etc/deskgate
echo DONE >>"$OUT"
