# tests/compat/scripts/tools.sh: everyday tools with their own process and
# signal handling: timeout (timer + kill of a child group), xargs -P,
# stdbuf (its own LD_PRELOAD), nohup, flock(1), perl, awk, find.
set -u
timeout 0.2 sleep 5; echo "timeout: status $?"
timeout -s KILL 0.2 sh -c 'trap "" TERM; sleep 5'; echo "timeout -s KILL: status $?"
timeout 5 sh -c 'exit 3'; echo "timeout, command finished: status $?"
seq 1 24 | xargs -P 4 -n 3 sh -c 'echo $(( $1 + $2 + $3 ))' sh | sort -n | tr '\n' ' '; echo
seq 1 5 | xargs -I{} echo "item {}" | tail -n 1
stdbuf -oL sh -c 'echo line-buffered; echo through stdbuf'
nohup sh -c 'echo "under nohup"' > nohup.out 2>/dev/null; cat nohup.out
: > lockfile
flock lockfile sh -c 'flock -n lockfile true; echo "nested flock -n: $?"'
perl -e 'my %h = map { $_ => $_ ** 2 } 1..10; print join(",", map { $h{$_} } sort { $a <=> $b } keys %h), "\n";'
perl -e '$SIG{ALRM} = sub { print "perl alarm\n"; exit 4 }; alarm 1; sleep 10'; echo "perl status $?"
perl -e 'my $pid = fork; if (!$pid) { exit 6 } waitpid($pid, 0); print "perl fork child ", $? >> 8, "\n"'
awk 'BEGIN { for (i = 1; i <= 10; i++) s += i * i; printf "awk sum %d\n", s }'
seq 1 1000 | awk '{ s += $1 } END { print "awk total", s, NR }'
mkdir -p t/a/b t/c && touch t/a/x t/a/b/y t/c/z
find t -type f | sort
find t -name '*' -type d -exec sh -c 'echo "dir $1"' sh {} \; | sort
