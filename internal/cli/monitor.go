package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/armorer-dev/armorer/host"
	"github.com/armorer-dev/armorer/monitor"
)

type monitorOptions struct {
	IO   *IOStreams
	Ctx  context.Context
	Host func() (*host.Host, error)

	Listen           string
	Sources          []string
	Textfile         string
	TextfileInterval time.Duration
	MaxProfiles      int
	OnDenial         string
	OnDenialInterval time.Duration
	FromStart        bool
	// StateDir holds monitor/positions.json, where the sources stood
	// ($ARMORER_STATE_DIR, default /var/lib/armorer).
	StateDir string

	// ready, when set (tests), receives the address the server listens on.
	ready func(addr string)
}

func newMonitorCmd(f *Factory, runF func(*monitorOptions) error) *cobra.Command {
	o := &monitorOptions{IO: f.IO, Host: f.Host, StateDir: HostPathsFromEnv().StateDir}
	cmd := &cobra.Command{
		Use:   "monitor",
		Short: "Count AppArmor denials as Prometheus metrics (long-running)",
		Long: `Read AppArmor events live and expose them as Prometheus metrics on --listen
(default 127.0.0.1:9917: /metrics, /healthz, /readyz, and /denials with the most
recent denials as JSON), and/or write them for node_exporter's textfile collector
(--textfile, rewritten atomically every --textfile-interval).

Without --source, the first available of netlink: (needs CAP_AUDIT_READ), auditd:,
journal: and kmsg: is used; a source that fails is retried with backoff. Only events
that arrive after the start are counted, unless --from-start; after a restart (even
after kill -9) each source resumes where the last run stood, kept in
$ARMORER_STATE_DIR/monitor/positions.json, and kmsg records overwritten meanwhile
count as lost. Labels never carry a
path or PID; past --max-profiles profiles, the profile label becomes "other".

--on-denial runs a command (split on spaces, no shell) with each denial as JSON on
its stdin, at most once per --on-denial-interval.`,
		GroupID: "events",
		Example: `  armorer monitor
  armorer monitor --source auditd: --listen :9917
  armorer monitor --listen "" --textfile /var/lib/prometheus/node-exporter/armorer.prom
  armorer monitor --on-denial "/usr/local/bin/page-oncall --severity warning"`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Ctx = cmd.Context()
			if runF != nil {
				return runF(o)
			}
			return monitorRun(o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Listen, "listen", "127.0.0.1:9917", "`address` for /metrics, /healthz, /readyz and /denials; empty for none")
	fl.StringArrayVar(&o.Sources, "source", nil, "read this `SOURCE` (repeatable): a path, auditd:[PATH], journal:[PATH], kmsg: or netlink:")
	fl.StringVar(&o.Textfile, "textfile", "", "also write the metrics to `PATH` (node_exporter textfile format, atomically)")
	fl.DurationVar(&o.TextfileInterval, "textfile-interval", 15*time.Second, "how often to rewrite --textfile")
	fl.IntVar(&o.MaxProfiles, "max-profiles", 200, "distinct profile label values before folding into profile=\"other\"")
	fl.StringVar(&o.OnDenial, "on-denial", "", "run `CMD` with each denial as JSON on stdin (argv split on spaces, no shell)")
	fl.DurationVar(&o.OnDenialInterval, "on-denial-interval", 10*time.Second, "at most one --on-denial run per this interval")
	fl.BoolVar(&o.FromStart, "from-start", false, "also count the events the sources hold already")
	return cmd
}

func monitorRun(o *monitorOptions) error {
	if o.Listen == "" && o.Textfile == "" {
		return usageErrorf("nothing to serve: give --listen ADDR or --textfile PATH")
	}
	if o.TextfileInterval <= 0 {
		return usageErrorf("--textfile-interval must be positive")
	}
	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(o.IO.ErrOut, nil))

	var profiles monitor.ProfileSource
	if o.Host != nil {
		profiles = hostProfiles{o.Host}
	}
	m := monitor.New(monitor.Options{MaxProfiles: o.MaxProfiles, Build: monitorBuild()}, profiles, logger)
	if o.OnDenial != "" {
		argv := strings.Fields(o.OnDenial)
		if len(argv) == 0 {
			return usageErrorf("--on-denial needs a command")
		}
		hook := &monitor.Hook{Argv: argv, MinInterval: o.OnDenialInterval, Logger: logger}
		m.OnDenial = func(ob monitor.Observation, isNew bool) { hook.Fire(ctx, ob, isNew) }
	}

	var wg sync.WaitGroup
	errc := make(chan error, 2)
	if o.Listen != "" {
		m.RegisterProcessMetrics()
		ln, err := net.Listen("tcp", o.Listen)
		if err != nil {
			return &EnvError{Err: fmt.Errorf("monitor: listen on %s: %w", o.Listen, err)}
		}
		srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
		logger.Info("serving metrics", "addr", ln.Addr().String())
		if o.ready != nil {
			o.ready(ln.Addr().String())
		}
		wg.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- &EnvError{Err: fmt.Errorf("monitor: serve: %w", err)}
				cancel()
			}
		})
		wg.Go(func() {
			<-ctx.Done()
			shutCtx, c := context.WithTimeout(context.Background(), 5*time.Second)
			defer c()
			srv.Shutdown(shutCtx)
		})
	}
	if o.Textfile != "" {
		wg.Go(func() {
			if err := m.RunTextfile(ctx, o.Textfile, o.TextfileInterval); err != nil {
				errc <- &EnvError{Err: fmt.Errorf("monitor: textfile: %w", err)}
			}
		})
	}
	r := &monitor.Runner{Monitor: m, Specs: o.Sources, Logger: logger, FromStart: o.FromStart}
	if o.StateDir != "" {
		r.PositionFile = filepath.Join(o.StateDir, "monitor", "positions.json")
	}
	r.Run(ctx)
	cancel()
	wg.Wait()
	close(errc)
	return <-errc // nil when nothing failed: a signal is a normal stop
}

// hostProfiles reads the host's profile state for the monitor.
type hostProfiles struct{ host func() (*host.Host, error) }

func (p hostProfiles) ProfileSnapshot(ctx context.Context) (monitor.ProfileSnapshot, error) {
	h, err := p.host()
	if err != nil {
		return monitor.ProfileSnapshot{}, err
	}
	st, err := h.Status(ctx, host.GlobMatch)
	if err != nil {
		return monitor.ProfileSnapshot{}, err
	}
	snap := monitor.ProfileSnapshot{Loaded: map[string]string{}, Unconfined: len(st.Unconfined)}
	for _, lp := range st.Profiles {
		snap.Loaded[lp.Name] = string(lp.Mode)
	}
	// A missing profile directory only means nothing is defined.
	snap.Defined, _ = h.DefinedProfiles()
	return snap, nil
}
