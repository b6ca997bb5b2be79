/* raw.node: the native addon an attacker would load into a Node process to
 * get what Node's API has not, a raw socket. Its constructor runs as soon
 * as process.dlopen maps it (before Node looks for a module in it). */
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

__attribute__((constructor)) static void raw(void)
{
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (fd < 0) {
		perror("raw.node: socket");
		return;
	}
	fprintf(stderr, "raw.node: raw socket opened\n");
	close(fd);
}
