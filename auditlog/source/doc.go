// Package source is armorer's one event pipeline: it reads AppArmor events
// from files and from the kernel's live log sources, parses them (package
// auditlog), removes duplicates across sources, counts what was lost,
// follows and resumes.
//
// # The pipeline
//
// Open takes SOURCEs, the same strings everywhere in the CLI, and
// Events iterates over the parsed events with their source and position:
//
//	p, err := source.Open(ctx, []string{"auditd:", "kmsg:"}, source.Options{Follow: true})
//	if err != nil { … }
//	for ev := range p.Events() { … ev.Event, ev.Source, ev.Line() }
//	err = p.Err()
//	st := p.Stats() // lines, events, duplicates, unreadable, rejected, lost
//
// Besides the SOURCEs below, state:NAME reads the events armorer kept for
// profile NAME; the event store belongs to the program above this package,
// which resolves it through Options.State, and k8s:NAME the accesses that
// Kubernetes node agents published (Options.K8s). Options.FirstOf reads the first
// SOURCE that opens (netlink:, else kmsg:); Options.Retry keeps a followed
// pipeline alive across source failures, resuming each source after its
// last record. Every command and the node agent read events this way.
//
// # Sources
//
// OpenSource opens one raw source, the building block under the pipeline,
// for programs that want the records themselves:
//
//	PATH            a log file (any format auditlog detects); with Follow it is
//	                followed across rotation (rename, then a new file: the old
//	                file is finished first) and truncation (copytruncate:
//	                reading restarts at 0; a file truncated and rewritten past
//	                our offset is recognised because the last bytes we read
//	                changed), using fsnotify plus a poll fallback; a file
//	                rotated twice before the reader looks (the poll
//	                interval is 2 s with fsnotify, 250 ms without) is
//	                skipped, as with tail -F
//	-               stdin (SourceOptions.Stdin), read to its end
//	kmsg:           the kernel ring buffer /dev/kmsg, from its oldest record;
//	                it ends at the newest one unless Follow (a record the
//	                kernel keeps open for continuation, a printk without a
//	                trailing newline, appears only when it is finished)
//	journal:[PATH]  journalctl -o json: the system journal, or the journal
//	                directory (--directory) or file (--file) PATH; only kernel
//	                and audit-transport entries (_TRANSPORT=kernel or audit);
//	                with Follow, journalctl -f, resuming after Resume.Cursor
//	auditd:[PATH]   auditd's log, default /var/log/audit/audit.log (a file)
//	netlink:        the audit netlink multicast group AUDIT_NLGRP_READLOG on
//	                NETLINK_AUDIT: a copy of every audit record, whether or
//	                not auditd runs; needs CAP_AUDIT_READ and the host's
//	                network namespace (Open checks both); always follows
//
// A spec is a scheme when the text before its first colon is lower-case
// letters and digits, starting with a letter; write ./a:b for a file named
// a:b. An unknown scheme is a
// *SpecError; a source that cannot be used here (a missing file or program,
// a missing permission or kernel feature) is an *UnavailableError whose
// message says why and what to do. Both are returned by Open, before any
// record is read, except journalctl's own failures, which Run returns.
//
// # Records
//
// Run sends one Record per raw record on a channel the caller owns (Run
// never closes it, so sources can share one). Record.Data holds:
//
//	file, stdin, auditd  one line, without its '\n'
//	kmsg:                one /dev/kmsg record exactly as read(2) returned it:
//	                     "6,1234,5678901,-;audit: ...\n" and any continuation
//	                     lines (" SUBSYSTEM=...\n")
//	journal:             one journalctl -o json line (one entry), without '\n'
//	netlink:             "type=NNNN msg=" followed by the kernel's text, e.g.
//	                     "type=1400 msg=audit(1700000000.123:42): apparmor=...",
//	                     the format of auditd's log with numeric types
//
// Record.Pos says where the record came from: Line (files: 1-based line in
// the current file; journal and netlink: 1-based ordinal), Offset and Inode
// (files: the byte offset after the line, and which file), Seq and Boot
// (kmsg: the kernel's sequence number and the boot it belongs to), Cursor
// (journal: __CURSOR). Pass the Pos of the last record processed as
// SourceOptions.Resume to continue after it.
//
// Data is a copy the source never touches again: a Record stays valid
// after receipt, with no release step. Copies are carved from shared 64 KiB
// slabs, so reading costs no allocation per record; a consumer that keeps
// a few records for a long time should copy their Data.
//
// # Back-pressure and loss
//
// Live kernel records (netlink:, and kmsg: once it has caught up with the
// ring buffer) never wait: a record that does not fit in the channel is
// dropped and counted (Stats.Dropped), because a reader that stalls makes
// the kernel lose records anyway. Everything else waits for room: file,
// stdin, auditd and journal records are safe on disk, and the backlog a
// kmsg reader starts with is safe in the ring buffer. SourceOptions.WhenFull
// overrides these defaults.
//
// Records the kernel lost are counted in Stats.Lost: gaps in /dev/kmsg
// sequence numbers (after an EPIPE overrun, which also counts in
// Stats.Overruns, or between a Resume.Seq and the oldest record left), and
// one per netlink ENOBUFS overrun (the kernel does not say how many).
//
// # Cancellation
//
// Every Run loop watches its context. Reads of /dev/kmsg and the netlink
// socket go through the runtime poller and are interrupted by a deadline
// when the context ends; journalctl gets SIGINT, then SIGKILL after 2 s; a
// followed file waits on fsnotify events or a poll ticker, never in a busy
// loop. Stdin can only be interrupted if it is a pipe or socket.
//
// A source is not safe for concurrent Runs; Stats may be called at any time.
package source
