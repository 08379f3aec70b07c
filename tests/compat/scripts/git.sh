# tests/compat/scripts/git.sh: git (many short processes, mmap'd pack
# files, threads in pack-objects and index-pack) on a fresh repository.
# Fixed identities and dates make every hash deterministic.
set -eu
export GIT_AUTHOR_NAME=compat GIT_AUTHOR_EMAIL=compat@example.org
export GIT_COMMITTER_NAME=compat GIT_COMMITTER_EMAIL=compat@example.org
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
git init -q -b main repo
cd repo
for i in 1 2 3 4 5 6; do
	export GIT_AUTHOR_DATE="2001-02-0$i 10:00:00 +0000"
	export GIT_COMMITTER_DATE="$GIT_AUTHOR_DATE"
	seq 1 $((i * 3000)) | sed "s/^/line $i /" > "file$i.txt"
	printf 'change %s\n' "$i" >> README
	git add -A
	git commit -q -m "commit $i"
done
git log --format='%H %s' | head -n 3
git rev-list --count HEAD
git diff --stat HEAD~2 HEAD
git checkout -q -b side HEAD~3
echo side > side.txt && git add side.txt && git commit -q -m side
git checkout -q main
git merge -q --no-edit side
git log --graph --format=%s | head -n 6
git -c pack.threads=2 gc -q --aggressive
git count-objects -v | grep -E '^(count|in-pack|packs)'
git fsck --strict 2>&1 | head -n 3
git clone -q --no-local . ../clone
git -C ../clone log --format=%H -1
git archive --format=tar HEAD | tar -tf - | sort | tr '\n' ' '
echo
git grep -c 'line 6 17' HEAD -- file6.txt
