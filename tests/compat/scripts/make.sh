# tests/compat/scripts/make.sh: make -j4 (jobserver pipes, many parallel
# compiler processes) building a small program from generated sources.
set -eu
mkdir -p src
for i in 0 1 2 3 4 5 6 7 8 9; do
	printf 'int f%s(int x) { return x * %s + %s; }\n' "$i" "$i" "$((i * i))" > src/f$i.c
done
{
	echo '#include <stdio.h>'
	for i in 0 1 2 3 4 5 6 7 8 9; do echo "int f$i(int);"; done
	echo 'int main(void) { int s = 0;'
	for i in 0 1 2 3 4 5 6 7 8 9; do echo "s += f$i($i + 1);"; done
	printf '%s\n' 'printf("sum %d\n", s); return 0; }'
} > src/main.c
cat > Makefile <<'EOT'
SRCS := $(wildcard src/*.c)
OBJS := $(SRCS:.c=.o)
prog: $(OBJS)
	@$(CC) -o $@ $(OBJS)
	@echo linked $@ from $(words $(OBJS)) objects
%.o: %.c
	@$(CC) -O1 -c -o $@ $<
EOT
make -j4 -s CC=gcc
./prog
make -s -q prog && echo "up to date"
touch src/f3.c
make -j4 -s CC=gcc | sed 's/^/rebuild: /'
