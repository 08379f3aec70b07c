# tests/compat/scripts/bash.sh: bash-only features: arrays, process
# substitution (/dev/fd), coprocesses, wait -n, pipefail, PIPESTATUS.
set -u
declare -a arr=(zeta alpha "with space" beta)
echo "array: ${#arr[@]} elements, sorted: $(printf '%s\n' "${arr[@]}" | sort | tr '\n' ,)"
declare -A map=([one]=1 [two]=2 [three]=3)
sum=0; for k in "${!map[@]}"; do sum=$((sum + map[$k])); done; echo "assoc sum $sum"
diff <(seq 1 5) <(seq 1 6); echo "diff of process substitutions: $?"
while read -r a b; do echo "pair $a-$b"; done < <(printf '1 2\n3 4\n')
echo hello > >(tr a-z A-Z > upper.txt)
wait $!
cat upper.txt
coproc BC { while read -r n; do echo $((n * 2)); done; }
bc_pid=$BC_PID # bash unsets BC_PID once it reaps the coprocess
echo 21 >&"${BC[1]}"
read -r doubled <&"${BC[0]}"
echo "coproc doubled: $doubled"
exec {BC[1]}>&-
wait "$bc_pid" 2>/dev/null || true
set -o pipefail
false | true; echo "pipefail status $?"
set +o pipefail
true | (exit 3) | true; echo "PIPESTATUS ${PIPESTATUS[*]}"
(sleep 0.8; exit 4) & (sleep 0.05; exit 9) &
wait -n; echo "wait -n first: $?"
wait -n; echo "wait -n second: $?"
mapfile -t lines < <(seq 3 -1 1); echo "mapfile: ${lines[*]}"
printf -v padded '%05d' 42; echo "printf -v: $padded"
[[ "abc123" =~ ^([a-z]+)([0-9]+)$ ]] && echo "regex: ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
shopt -s extglob; f=foo.tar.gz; echo "extglob: ${f%%.+([a-z])}"
trap 'echo "ERR trap at line $LINENO"' ERR
false
trap - ERR
echo "RANDOM seeded: $(RANDOM=42; echo $RANDOM $RANDOM)"
echo "bash done"
