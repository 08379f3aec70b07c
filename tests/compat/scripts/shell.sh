# tests/compat/scripts/shell.sh: POSIX shell features that fork, exec,
# pipe and wait; run by both sh (dash) and bash. Deterministic output.
set -u
echo "== pipes"
printf '%s\n' pear apple fig apple banana | sort | uniq -c | sort -rn | head -n 3
seq 1 2000 | tr 0-9 a-j | grep -c b | sed 's/^/lines with b: /'
seq 1 5 | while read -r n; do echo "sq $((n * n))"; done | tail -n 2
yes compat | head -n 2
echo "yes killed by SIGPIPE: $(yes | (head -c 10 >/dev/null; sleep 0.05); echo done)"
echo "pipeline status (last command): $(false | true; echo $?)"

echo "== subshells and groups"
x=outer
(x=inner; echo "in subshell: $x"; exit 3)
echo "subshell status $? and x=$x"
{ echo "group 1"; echo "group 2"; } | wc -l
y=$( (echo nested; echo subst) | tr '\n' ' ')
echo "command substitution: $y"
echo "arith in subshell: $( (a=6; echo $((a * 7))) )"

echo "== redirections"
echo one > f1
echo two >> f1
cat < f1
ls /nonexistent-compat-path 2> err.txt; echo "ls status $?"
sed 's/.*nonexistent.*/(ls error message)/' err.txt
{ echo to-stdout; echo to-stderr >&2; } > both.txt 2>&1
sort both.txt
# fds 8 and 9 here; 3 to 6 are the low-fds case.
exec 8> fd8.txt
echo "via fd 8" >&8
exec 8>&-
cat fd8.txt
exec 9< f1
read -r first <&9
exec 9<&-
echo "read from fd 9: $first"
cat <<EOT
here-doc with $x and $(echo substitution)
EOT
cat <<'EOT'
quoted here-doc keeps $x
EOT

echo "== background jobs and wait"
(sleep 0.2; echo "slow job") > bg1.txt &
p1=$!
(echo "fast job"; exit 5) > bg2.txt &
p2=$!
wait $p2; s2=$?
wait $p1; s1=$?
echo "statuses: fast=$s2 slow=$s1"
cat bg2.txt bg1.txt
for i in 1 2 3 4 5 6; do (sleep 0.0$i; echo "worker $i" > w$i.txt) & done
wait
cat w1.txt w2.txt w3.txt w4.txt w5.txt w6.txt
sleep 10 &
victim=$!
kill $victim
wait $victim; echo "killed job status $?"

echo "== traps and signals"
trap 'echo "caught USR1"' USR1
kill -USR1 $$
trap - USR1
( trap 'echo "subshell EXIT trap"' EXIT; echo "in trapped subshell" )
sh -c 'kill -TERM $$'; echo "sh killed by TERM: status $?"

echo "== functions, loops, tests"
fact() { if [ "$1" -le 1 ]; then echo 1; else echo $(( $1 * $(fact $(( $1 - 1 ))) )); fi; }
echo "10! = $(fact 10)"
i=0; while [ $i -lt 100 ]; do i=$((i + 1)); done; echo "looped to $i"
case "hello.c" in *.c) echo "case: C file" ;; *) echo "case: other" ;; esac
for f in f1 fd8.txt missing; do [ -f "$f" ] && echo "$f exists" || echo "$f missing"; done

echo "== exec and exit status"
sh -c 'exit 42'; echo "child exit $?"
( exec echo "exec replaced the subshell" )
command -v ls >/dev/null && echo "command -v finds ls"
nosuchcommand-compat 2>/dev/null; echo "missing command status $?"
echo "done"
exit 7
