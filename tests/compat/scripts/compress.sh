# tests/compat/scripts/compress.sh TOOL [OPTIONS]: compression round trip
# of the fixture's text.txt and data.bin with TOOL (gzip, bzip2, xz, zstd),
# each child process under dune. Prints sizes and digests of the
# compressed streams (deterministic for a given tool and options).
set -eu
tool=$1
shift
for f in text.txt data.bin; do
	"$tool" "$@" -c "$f" > "$f.z"
	"$tool" -d -c "$f.z" > "$f.back"
	cmp "$f" "$f.back"
	printf '%s %s: %s -> %s bytes, %s\n' "$tool" "$f" "$(wc -c < "$f")" \
		"$(wc -c < "$f.z")" "$(sha256sum < "$f.z" | cut -c1-16)"
done
# The same through a pipe, with the tool reading stdin.
cat text.txt | "$tool" "$@" | "$tool" -d | sha256sum | cut -c1-16
# And test mode on a corrupted stream fails.
printf 'garbage' >> data.bin.z
if "$tool" -t data.bin.z 2>/dev/null; then echo "corruption not noticed"; else echo "corruption noticed"; fi
