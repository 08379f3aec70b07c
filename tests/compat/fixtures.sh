# tests/compat/fixtures.sh: fixture builders for cases.txt (fixture=NAME
# runs fx_NAME). Sourced by compat.sh in an empty directory that becomes,
# copied afresh, the cwd of both the native and the dune run. They run
# natively; $PROGS has the compat programs (gen makes deterministic data).
# Fixed timestamps keep `ls -l` and tar output identical between runs.

fx_lsdir() {
	mkdir -p lsdir/sub/deeper lsdir/empty
	printf 'hello\n' > lsdir/a.txt
	"$PROGS/gen" text 12345 1 > lsdir/b.dat
	"$PROGS/gen" bin 70000 2 > lsdir/sub/c.bin
	: > lsdir/sub/deeper/zero
	printf '#!/bin/sh\necho hi\n' > lsdir/run.sh
	chmod 0755 lsdir/run.sh
	chmod 0600 lsdir/b.dat
	chmod 0444 lsdir/sub/c.bin
	ln -s a.txt lsdir/link
	ln -s missing lsdir/dangling
	ln lsdir/a.txt lsdir/hard
	mkfifo lsdir/fifo
	find lsdir -exec touch -h -d '2001-02-03 04:05:06' {} +
}

fx_words() {
	"$PROGS/gen" words 3000000 3 > words.txt
}

fx_text() {
	"$PROGS/gen" text 4000000 4 > text.txt
	"$PROGS/gen" bin 2000000 5 > data.bin
}

fx_big() {
	"$PROGS/gen" text 50000000 6 > big.txt
}

hexbytes() {
	for h in "$@"; do
		# shellcheck disable=SC2059
		printf "\\$(printf %03o "0x$h")"
	done
}

fx_badinput() {
	printf 'echo not executable\n' > noexec.sh
	chmod 0644 noexec.sh
	# Binary junk with the execute bit and no #! line.
	"$PROGS/gen" bin 4096 7 > junk
	printf '\177ELX' | dd of=junk bs=1 conv=notrunc 2>/dev/null
	chmod 0755 junk
	# A valid ELF for another machine: /bin/true with e_machine = AArch64
	# (183 = 0xb7, little endian at offset 18).
	cp /bin/true arm64-true
	printf '\267\000' | dd of=arm64-true bs=1 seek=18 conv=notrunc 2>/dev/null
	chmod 0755 arm64-true
	# And a complete i386 executable (exit(0) through int $0x80): ELF
	# header, one PT_LOAD program header, 9 bytes of code.
	hexbytes 7f 45 4c 46 01 01 01 00 00 00 00 00 00 00 00 00 \
		02 00 03 00 01 00 00 00 54 80 04 08 34 00 00 00 \
		00 00 00 00 00 00 00 00 34 00 20 00 01 00 28 00 00 00 00 00 \
		01 00 00 00 00 00 00 00 00 80 04 08 00 80 04 08 \
		5d 00 00 00 5d 00 00 00 05 00 00 00 00 10 00 00 \
		31 db b8 01 00 00 00 cd 80 > i386-exit
	chmod 0755 i386-exit
	mkdir adir
}
