# tests/compat/scripts/coreutils.sh: a mix of coreutils over the fixture's
# text.txt, each one a process under dune.
set -eu
head -n 3 text.txt
tail -n 2 text.txt
tail -c 100 text.txt | od -c | head -n 3
cut -d " " -f 2,3 text.txt | sort | uniq -c | sort -k1,1nr -k2 | head -n 5
tr -s 'a-z' 'A-Z' < text.txt | md5sum
tac text.txt | sha1sum
split -l 10000 text.txt part.
ls part.* | wc -l
cat part.* | cmp - text.txt && echo "split and cat: identical"
nl -ba text.txt | tail -n 1
expand text.txt | fold -w 40 | wc -l
seq 1 3 | paste -sd,
date -u -d @1000000000 '+%Y-%m-%d %H:%M:%S'
basename /a/b/c.txt .txt; dirname /a/b/c.txt
printf '%s\n' 3 1 2 | sort -n | tr '\n' ' '; echo
stat -c '%n %s %F %a' text.txt data.bin
du -b text.txt
mkdir -p d1/d2 && touch d1/d2/f && find d1 | sort && rm -r d1
ln -s text.txt lnk && readlink lnk && realpath --relative-to=. lnk
expr 6 \* 7
factor 1234567
