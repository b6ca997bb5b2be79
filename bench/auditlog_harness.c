/*
 * auditlog_harness: libapparmor's log parser (parse_record() from
 * libapparmor-dev 3.0.8) over a file of log lines, for armorer's
 * differential test and benchmark.
 *
 *   auditlog_harness fields FILE   one line of output per input line:
 *                                  "N<TAB>-" when libapparmor rejects line N,
 *                                  else "N" and <TAB>key=value for each field
 *   auditlog_harness count FILE    the number of lines libapparmor accepts
 *
 * Build: gcc -O2 -o auditlog_harness auditlog_harness.c -lapparmor
 */
#include <aalogparse/aalogparse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *outcome(aa_record_event_type e)
{
	switch (e) {
	case AA_RECORD_ERROR: return "ERROR";
	case AA_RECORD_AUDIT: return "AUDIT";
	case AA_RECORD_ALLOWED: return "ALLOWED";
	case AA_RECORD_DENIED: return "DENIED";
	case AA_RECORD_HINT: return "HINT";
	case AA_RECORD_STATUS: return "STATUS";
	default: return NULL;
	}
}

/* Values may hold anything the log held: escape tab, newline and backslash. */
static void str(const char *k, const char *v)
{
	if (!v)
		return;
	printf("\t%s=", k);
	for (; *v; v++) {
		switch (*v) {
		case '\t': fputs("\\t", stdout); break;
		case '\n': fputs("\\n", stdout); break;
		case '\\': fputs("\\\\", stdout); break;
		default: putchar(*v);
		}
	}
}

static void num(const char *k, unsigned long v, int set)
{
	if (set)
		printf("\t%s=%lu", k, v);
}

static int accepted(aa_log_record *r)
{
	return r && r->event != AA_RECORD_INVALID && outcome(r->event) != NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "fields") && strcmp(argv[1], "count"))) {
		fprintf(stderr, "usage: %s fields|count FILE\n", argv[0]);
		return 2;
	}
	int fields = strcmp(argv[1], "fields") == 0;
	FILE *f = fopen(argv[2], "r");
	if (!f) {
		perror(argv[2]);
		return 2;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0, events = 0;
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = 0;
		aa_log_record *r = parse_record(line);
		if (!accepted(r)) {
			if (fields)
				printf("%lu\t-\n", lineno);
			free_record(r);
			continue;
		}
		events++;
		if (fields) {
			printf("%lu", lineno);
			str("apparmor", outcome(r->event));
			num("epoch", r->epoch, r->epoch != 0);
			num("serial", r->audit_sub_id, r->audit_sub_id != 0);
			num("pid", r->pid, r->pid != 0);
			num("peer_pid", r->peer_pid, r->peer_pid != 0);
			num("task", r->task, r->task != 0);
			num("fsuid", r->fsuid, r->fsuid != (unsigned long)-1);
			num("ouid", r->ouid, r->ouid != (unsigned long)-1);
			num("error", (unsigned long)(long)r->error_code, r->error_code != 0);
			str("operation", r->operation);
			str("denied_mask", r->denied_mask);
			str("requested_mask", r->requested_mask);
			str("profile", r->profile);
			str("peer_profile", r->peer_profile);
			str("comm", r->comm);
			str("name", r->name);
			str("name2", r->name2);
			str("namespace", r->namespace);
			str("attribute", r->attribute);
			str("info", r->info);
			str("peer_info", r->peer_info);
			str("active_hat", r->active_hat);
			str("family", r->net_family);
			str("protocol", r->net_protocol);
			str("sock_type", r->net_sock_type);
			str("laddr", r->net_local_addr);
			num("lport", r->net_local_port, r->net_local_port != 0);
			str("faddr", r->net_foreign_addr);
			num("fport", r->net_foreign_port, r->net_foreign_port != 0);
			str("bus", r->dbus_bus);
			str("path", r->dbus_path);
			str("interface", r->dbus_interface);
			str("member", r->dbus_member);
			str("signal", r->signal);
			str("peer", r->peer);
			str("fstype", r->fs_type);
			str("flags", r->flags);
			str("srcname", r->src_name);
			putchar('\n');
		}
		free_record(r);
	}
	if (!fields)
		printf("%lu\n", events);
	free(line);
	fclose(f);
	return 0;
}
