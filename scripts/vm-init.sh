#!/bin/busybox sh
# scripts/vm-init.sh: /init of the VM runner's initramfs (scripts/vm.sh).
# Loads the modules (virtio, 9p, overlay, kvm + kvm_amd or kvm_intel),
# builds a root that looks like the host's (its / read-only over 9p, with
# a tmpfs overlay so programs can write anywhere), mounts the writable
# share at its host path, runs the job in it, writes the job's exit status
# to the control share and powers off. Runs under busybox only.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

say() { echo "vm-init: $*" >/dev/console; }
fail() {
	say "$*"
	poweroff -f
}
arg() { # value of NAME=... on the kernel command line
	for w in $(cat /proc/cmdline); do
		case $w in "$1"=*) echo "${w#*=}" ;; esac
	done
}

for m in virtio_pci 9pnet_virtio 9p overlay; do
	modprobe "$m" || fail "cannot load module $m"
done
# kvm for whichever virtualization the virtual CPU offers (TCG: AMD-V).
if grep -qw svm /proc/cpuinfo; then
	modprobe kvm_amd || say "cannot load kvm_amd"
elif grep -qw vmx /proc/cpuinfo; then
	modprobe kvm_intel || say "cannot load kvm_intel"
else
	say "the virtual CPU has neither svm nor vmx: no /dev/kvm"
fi

msize=512000
mkdir -p /lower /upper /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=$msize,ro,cache=loose \
	hostroot /lower || fail "cannot mount the host's root (9p tag hostroot)"
mount -t tmpfs -o mode=0755 upper /upper
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work \
	overlay /newroot || fail "cannot mount the overlay root"
mkdir -p /newroot/run/vmio
mount -t 9p -o trans=virtio,version=9p2000.L,msize=$msize,cache=none \
	vmio /newroot/run/vmio || fail "cannot mount the control share (vmio)"
# The VM's own /tmp first: the writable share may live under /tmp.
mount -t tmpfs -o mode=1777 tmp /newroot/tmp
rw=$(arg dunevm.rw)
if [ -n "$rw" ]; then
	mkdir -p "/newroot$rw"
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=$msize,cache=mmap \
		rwshare "/newroot$rw" || fail "cannot mount the writable share at $rw"
fi
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 shm /newroot/dev/shm
hostname dune-vm
ip link set lo up 2>/dev/null

# The job: /run/vmio/job (written by vm.sh) sets the environment and cwd
# and runs the command. Its output goes to the serial console, which the
# host streams.
stty -F /dev/console -onlcr 2>/dev/null
chroot /newroot /bin/sh /run/vmio/job </dev/null >/dev/console 2>&1
echo $? >/newroot/run/vmio/rc
echo 0 >/proc/sys/kernel/printk
sync
poweroff -f
