/* tests/compat/progs/static_hello.c: linked with -static, for the case
 * that checks `dune run` refuses static programs with a one-line reason. */
#include <stdio.h>

int main(void)
{
	puts("hello from a static program");
	return 0;
}
