# tests/compat/scripts/gcc.sh: gcc (driver -> cc1 -> as -> collect2 -> ld,
# all under dune) builds a small fork/exec-heavy program and runs it.
set -eu
cat > spawner.c <<'EOT'
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	int total = 0;
	for (int i = 0; i < 12; i++) {
		fflush(stdout);
		pid_t p = fork();
		if (p == 0) {
			char arg[32];
			snprintf(arg, sizeof(arg), "exit %d", i);
			if (i % 3 == 0)
				execl("/bin/echo", "echo", "child", arg, (char *)NULL);
			else
				execl("/bin/sh", "sh", "-c", arg, (char *)NULL);
			_exit(127);
		}
		int st;
		waitpid(p, &st, 0);
		total += WEXITSTATUS(st);
	}
	printf("sum of exit statuses %d\n", total);
	return system("echo from system; exit 3") == 3 << 8 ? 0 : 1;
}
EOT
cat > lib.c <<'EOT'
int twice(int x) { return 2 * x; }
EOT
cat > main2.c <<'EOT'
#include <stdio.h>
int twice(int x);
int main(void) { printf("twice(21) = %d\n", twice(21)); return 0; }
EOT
gcc -O2 -Wall -o spawner spawner.c
./spawner
gcc -c -O1 lib.c -o lib.o
gcc -c -O1 main2.c -o main2.o
ar rcs libtw.a lib.o
gcc -o linked main2.o -L. -ltw
./linked
gcc -shared -fPIC -o libtw.so lib.c
gcc -o dyn main2.c -L. -ltw -Wl,-rpath,"$PWD"
./dyn
echo 'int main(void) { return undefined_fn(); }' > bad.c
if gcc -o bad bad.c 2>/dev/null; then echo "bad link succeeded?"; else echo "bad link failed as it should"; fi
