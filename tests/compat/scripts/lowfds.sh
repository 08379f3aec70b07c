# tests/compat/scripts/lowfds.sh: the low fd numbers scripts use for their
# own files (exec 3>..., 4<&-, 5>&1): every one of 3 to 6 opened, used,
# closed, then the shell keeps forking.
set -u
for fd in 3 4 5 6; do
	eval "exec $fd> out$fd.txt"
	eval "echo 'written through fd $fd' >&$fd"
	eval "exec $fd>&-"
	cat "out$fd.txt"
	echo "subshell after closing fd $fd: $(echo ok)"
	(sleep 0.01; echo "background job after fd $fd") &
	wait
done
{ echo "group with 3 redirected"; } 3>&1
echo "done"
