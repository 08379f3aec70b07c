#!/bin/sh
# scripts/vm.sh: run one command inside a small Linux VM whose /dev/kvm is a
# hardware-virtualization KVM (kvm_amd with nested paging under QEMU's
# emulator when this host has no usable /dev/kvm; nested KVM with -cpu host
# when it has one). The guest sees the host's files at the same paths (the
# host's / read-only over virtio-9p with a tmpfs overlay on top, and one
# writable share, by default the project tree, at its own path), runs the
# command as root in the caller's working directory with the caller's
# environment, and this script exits with the command's status.
# See docs/testing.md.
set -eu

usage() {
	cat <<'EOF'
usage: scripts/vm.sh [OPTIONS] [--] COMMAND [ARGS...]
Run COMMAND inside a VM whose /dev/kvm is a hardware-virtualization KVM.

  --accel auto|tcg|kvm   QEMU accelerator (auto: kvm when /dev/kvm is usable
                         and the host CPU has VT-x/AMD-V, else tcg)
  --cpu MODEL            QEMU CPU model (default: max with tcg, host with kvm)
  --phys-bits N          guest physical address bits (default 48)
  --smp N                virtual CPUs (default 2)
  --mem SIZE             guest memory, QEMU syntax (default 6G)
  --tcg-threads single|multi
                         TCG threading (default single: one host thread for
                         all vCPUs; multi runs vCPUs in parallel)
  --rw DIR               the writable share, mounted at the same path in the
                         guest (default: the project tree)
  --timeout SECONDS      stop the VM after this long (default 3600; 0: none)
  --gdb PORT             QEMU gdb stub on localhost:PORT (the guest starts
                         stopped; attach with gdb, see docs/testing.md)
  --kernel-only          download and unpack the kernel, build the
                         initramfs, print their paths and exit
Exit status: COMMAND's; 124 on timeout; 125 if the VM could not start or
ended without the command's status (kernel panic, crash). Environment:
DUNE_VM_CACHE (default ~/.cache/dune-vm) holds the kernel and initramfs.
EOF
}

top=$(cd "$(dirname "$0")/.." && pwd)
die() {
	echo "vm.sh: $*" >&2
	exit 125
}

accel=auto cpu="" phys_bits=48 smp=2 mem=6G tcg_threads=single
rw=$top timeout=3600 gdb="" kernel_only=0
need() { [ $# -ge 2 ] || die "option $1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
	case $1 in
	--accel) need "$@"; accel=$2; shift 2 ;;
	--cpu) need "$@"; cpu=$2; shift 2 ;;
	--phys-bits) need "$@"; phys_bits=$2; shift 2 ;;
	--smp) need "$@"; smp=$2; shift 2 ;;
	--mem) need "$@"; mem=$2; shift 2 ;;
	--tcg-threads) need "$@"; tcg_threads=$2; shift 2 ;;
	--rw) need "$@"; rw=$2; shift 2 ;;
	--timeout) need "$@"; timeout=$2; shift 2 ;;
	--gdb) need "$@"; gdb=$2; shift 2 ;;
	--kernel-only) kernel_only=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) break ;;
	esac
done
isnum() { case $2 in '' | *[!0-9]*) die "$1 wants a number, not '$2'" ;; esac; }
isnum --phys-bits "$phys_bits"
isnum --smp "$smp"
isnum --timeout "$timeout"
[ -z "$gdb" ] || isnum --gdb "$gdb"
case $accel in auto | tcg | kvm) ;; *) die "--accel: auto, tcg or kvm, not '$accel'" ;; esac
case $tcg_threads in single | multi) ;; *) die "--tcg-threads: single or multi, not '$tcg_threads'" ;; esac
[ "$kernel_only" = 1 ] || [ $# -gt 0 ] || die "no command given (see --help)"
[ -d "$rw" ] || die "--rw $rw: not a directory"
rw=$(cd "$rw" && pwd -P)

# ---- host packages --------------------------------------------------------
pkgs=""
command -v qemu-system-x86_64 >/dev/null || pkgs="$pkgs qemu-system-x86"
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "ok installed" ||
	pkgs="$pkgs busybox-static"
command -v cpio >/dev/null || pkgs="$pkgs cpio"
if [ -n "$pkgs" ]; then
	[ "$(id -u)" = 0 ] || die "need root to install:$pkgs"
	echo "vm.sh: installing$pkgs" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $pkgs >&2 ||
		die "apt-get could not install$pkgs"
fi

# ---- kernel: Debian's linux-image-amd64, unpacked, never installed ---------
cache=${DUNE_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dune-vm}
mkdir -p "$cache"
kdir=""
if [ -f "$cache/current" ]; then
	kdir=$cache/$(cat "$cache/current")
	[ -f "$kdir/vmlinuz" ] || kdir=""
fi
if [ -z "$kdir" ]; then
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-/ {print $2; exit}')
	if [ -z "$pkg" ]; then
		[ "$(id -u)" = 0 ] || die "no kernel cached in $cache and no root to apt-get update"
		apt-get update -qq >&2
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
			awk '/Depends: linux-image-/ {print $2; exit}')
	fi
	[ -n "$pkg" ] || die "apt knows no linux-image-amd64 package"
	echo "vm.sh: fetching $pkg into $cache" >&2
	tmpk=$(mktemp -d "$cache/.fetch.XXXXXX")
	(cd "$tmpk" && apt-get download "$pkg" >/dev/null 2>&1) ||
		{ rm -rf "$tmpk"; die "apt-get download $pkg failed"; }
	dpkg-deb -x "$tmpk"/*.deb "$tmpk/root" ||
		{ rm -rf "$tmpk"; die "cannot unpack $pkg"; }
	kver=$(ls "$tmpk/root/lib/modules")
	/bin/busybox depmod -b "$tmpk/root" "$kver" ||
		{ rm -rf "$tmpk"; die "depmod failed for $kver"; }
	mkdir -p "$tmpk/k"
	mv "$tmpk/root/boot/vmlinuz-$kver" "$tmpk/k/vmlinuz"
	mv "$tmpk/root/lib" "$tmpk/k/lib"
	echo "$kver" >"$tmpk/k/version"
	rm -rf "${cache:?}/$pkg"
	mv "$tmpk/k" "$cache/$pkg"
	rm -rf "$tmpk"
	echo "$pkg" >"$cache/current"
	kdir=$cache/$pkg
fi
kver=$(cat "$kdir/version")

# ---- initramfs: busybox, /init, and the modules it loads ------------------
mods="virtio_pci 9pnet_virtio 9p overlay kvm_amd kvm_intel"
stamp=$( (cat "$top/scripts/vm-init.sh"; echo "$mods"; ls -l /bin/busybox) |
	sha256sum | cut -c1-16)
initrd=$kdir/initramfs-$stamp.cpio.gz
if [ ! -f "$initrd" ]; then
	t=$(mktemp -d)
	mkdir -p "$t/bin" "$t/proc" "$t/sys" "$t/dev" "$t/lib/modules/$kver"
	cp /bin/busybox "$t/bin/busybox"
	cp "$top/scripts/vm-init.sh" "$t/init"
	chmod 755 "$t/init"
	dep=$kdir/lib/modules/$kver/modules.dep
	# Every module named above, with what modules.dep says it needs.
	files=""
	for m in $mods; do
		f=$(awk -v m="$m" -F: '{
			n = $1; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); gsub(/-/, "_", n)
			if (n == m) { print $1 $2; exit }
		}' "$dep")
		[ -n "$f" ] || die "module $m is not in $kver"
		files="$files $f"
	done
	for f in $(echo "$files" | tr ' ' '\n' | sort -u); do
		mkdir -p "$t/lib/modules/$kver/$(dirname "$f")"
		cp "$kdir/lib/modules/$kver/$f" "$t/lib/modules/$kver/$f"
	done
	cp "$dep" "$t/lib/modules/$kver/"
	(cd "$t" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$t"
fi
if [ "$kernel_only" = 1 ]; then
	echo "kernel $kdir/vmlinuz ($kver)"
	echo "initramfs $initrd"
	exit 0
fi

# ---- accelerator and CPU --------------------------------------------------
host_kvm=0
if [ -c /dev/kvm ] && (: <>/dev/kvm) 2>/dev/null &&
	grep -qwE 'svm|vmx' /proc/cpuinfo; then
	host_kvm=1
fi
if [ "$accel" = auto ]; then
	if [ "$host_kvm" = 1 ]; then accel=kvm; else accel=tcg; fi
fi
if [ "$accel" = kvm ]; then
	[ "$host_kvm" = 1 ] || die "--accel kvm: this host has no usable /dev/kvm with VT-x/AMD-V"
	accel_opt=kvm
	cpu=${cpu:-host}
else
	accel_opt=tcg,thread=$tcg_threads
	cpu=${cpu:-max}
fi

# ---- the job --------------------------------------------------------------
io=$(mktemp -d)
qpid="" wpid=""
cleanup() {
	[ -n "$wpid" ] && kill "$wpid" 2>/dev/null
	[ -n "$qpid" ] && kill -9 "$qpid" 2>/dev/null
	rm -rf "$io"
}
trap 'cleanup' EXIT
trap 'echo "vm.sh: interrupted, stopping the VM" >&2; cleanup; trap - EXIT; exit 130' INT TERM HUP

q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
{
	echo "# written by scripts/vm.sh"
	export -p | grep -v -E '^export (OLDPWD|PWD|SHLVL|_)='
	printf 'cd %s || exit 125\n' "$(q "$(pwd -P)")"
	printf 'exec'
	for a in "$@"; do printf ' %s' "$(q "$a")"; done
	printf '\n'
} >"$io/job"

set -- -nodefaults -no-user-config -display none -no-reboot \
	-machine q35 -accel "$accel_opt" -cpu "$cpu,phys-bits=$phys_bits" \
	-smp "$smp" -m "$mem" \
	-kernel "$kdir/vmlinuz" -initrd "$initrd" \
	-append "console=ttyS0 quiet loglevel=3 panic=-1 dunevm.rw=$rw" \
	-chardev stdio,id=con,signal=off -serial chardev:con \
	-fsdev local,id=fs0,path=/,readonly=on,security_model=passthrough,multidevs=remap \
	-device virtio-9p-pci,fsdev=fs0,mount_tag=hostroot \
	-fsdev local,id=fs1,path="$io",security_model=passthrough \
	-device virtio-9p-pci,fsdev=fs1,mount_tag=vmio \
	-fsdev local,id=fs2,path="$rw",security_model=passthrough,multidevs=remap \
	-device virtio-9p-pci,fsdev=fs2,mount_tag=rwshare
[ -z "$gdb" ] || set -- "$@" -gdb "tcp:127.0.0.1:$gdb" -S
[ -z "$gdb" ] || echo "vm.sh: guest stopped; attach with: gdb -ex 'target remote :$gdb'" >&2

qemu-system-x86_64 "$@" </dev/null &
qpid=$!
if [ "$timeout" -gt 0 ]; then
	(sleep "$timeout" && touch "$io/timedout" && kill -9 "$qpid") >/dev/null 2>&1 &
	wpid=$!
fi
qrc=0
wait "$qpid" || qrc=$?
qpid=""
if [ -f "$io/timedout" ]; then
	echo "vm.sh: timed out after ${timeout}s; the VM was stopped" >&2
	exit 124
fi
if [ ! -f "$io/rc" ]; then
	echo "vm.sh: the VM ended (qemu status $qrc) without the command's status:" \
		"kernel panic, or the guest could not start it" >&2
	exit 125
fi
exit "$(cat "$io/rc")"
