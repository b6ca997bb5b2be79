/* myapp-helper: myapp's dynamically linked helper. It reads the config file
 * named by argv[1] and prints its line count and a checksum, so that a
 * profile for myapp must cover an ELF interpreter and shared libraries. */
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: myapp-helper CONFIG\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	unsigned long sum = 0, lines = 0;
	int c;
	while ((c = fgetc(f)) != EOF) {
		sum = sum * 31 + (unsigned char)c;
		if (c == '\n')
			lines++;
	}
	fclose(f);
	printf("helper: %lu lines, checksum %08lx\n", lines, sum & 0xffffffffUL);
	return 0;
}
