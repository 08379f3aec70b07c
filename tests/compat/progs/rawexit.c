/* tests/compat/progs/rawexit.c: a program without libc (built -nostdlib
 * -static), as minimal assembly programs are: write(2), then exit(2) --
 * the thread exit, not exit_group -- with status 7. */
void _start(void);

static const char msg[] = "raw syscalls, no libc\n";

void _start(void)
{
	long r;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(1L), "D"(1L), "S"(msg), "d"(sizeof(msg) - 1)
			 : "rcx", "r11", "memory");
	__asm__ volatile("syscall" : : "a"(60L), "D"(7L) : "rcx", "r11", "memory");
	for (;;)
		;
}
