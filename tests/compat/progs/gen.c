/* tests/compat/progs/gen.c: deterministic test data (runs natively, from
 * the fixtures). usage: gen text|words|bin BYTES SEED > FILE
 *   text:  printable lines of pseudo-random words, about 60 bytes each
 *   words: one pseudo-random word per line (for sort, uniq, wc)
 *   bin:   pseudo-random bytes with runs, so it compresses a little */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t s;

static uint64_t next(void)
{
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

static void word(char *w)
{
	static const char *syl[] = {"ka", "lo", "mi", "nu", "pe", "ra", "si",
				    "to", "vu", "xe", "zo", "qu", "be", "da"};
	int n = 1 + (int)(next() % 4);
	w[0] = 0;
	for (int i = 0; i < n; i++)
		strcat(w, syl[next() % 14]);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fputs("usage: gen text|words|bin BYTES SEED\n", stderr);
		return 2;
	}
	long long left = atoll(argv[2]);
	s = 0x9e3779b97f4a7c15ULL ^ (uint64_t)atoll(argv[3]);
	char buf[128], w[16];
	while (left > 0) {
		size_t n = 0;
		if (!strcmp(argv[1], "bin")) {
			uint64_t r = next();
			int run = (int)(r % 8) == 0 ? (int)(r >> 8) % 64 : 8;
			for (int i = 0; i < run && n < sizeof(buf); i++)
				buf[n++] = run == 8 ? (char)(r >> (8 * i))
						    : (char)r;
		} else if (!strcmp(argv[1], "words")) {
			word(w);
			n = (size_t)snprintf(buf, sizeof(buf), "%s\n", w);
		} else {
			int k = 4 + (int)(next() % 8);
			for (int i = 0; i < k; i++) {
				word(w);
				n += (size_t)snprintf(buf + n, sizeof(buf) - n,
						      "%s%s", i ? " " : "", w);
			}
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %llu\n",
					      (unsigned long long)(next() % 100000));
		}
		if ((long long)n > left)
			n = (size_t)left;
		fwrite(buf, 1, n, stdout);
		left -= (long long)n;
	}
	return 0;
}
