package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/armorer-dev/armorer/monitor"
)

// DefaultListen is the agent's HTTP address (probes, status, metrics).
const DefaultListen = ":9779"

// Options configure Serve.
type Options struct {
	Config
	// Listen is the address of /healthz, /readyz, /status, /metrics and
	// /denials.
	Listen string
	// Attribution reads denials (Sources, default the monitor's automatic
	// choice) and attributes them to pods.
	Attribution bool
	Sources     []string
	// RuntimeRoot prefixes the container runtimes' state directories
	// (/run/containerd, /run/containers, /run/runc) for attribution;
	// default "/".
	RuntimeRoot string
	// NodeName, when set, has the agent keep kube.NodeLabelKey on that
	// Node (through the pod's service account): the loaded set's hash
	// while ready, no label while not.
	NodeName string
	// Listening, when set, is told the address the server listens on.
	Listening func(addr string)
}

// Serve runs the agent until ctx ends: the HTTP server at once (so
// liveness holds while profiles load; /readyz says when they are loaded),
// the reconcile loop, and with Attribution the monitor's event pipeline.
// It fails at once when AppArmor is not usable on this node.
func Serve(ctx context.Context, o Options) error {
	a := New(o.Config)
	if _, err := a.host.RequireKernel(ctx); err != nil {
		return err
	}
	if o.NodeName != "" {
		l, err := InClusterNodeLabeler(o.NodeName)
		if err != nil {
			return err
		}
		a.afterReconcile = func(ctx context.Context, st Status) {
			if err := l.Update(ctx, st); err != nil && err.Error() != l.error {
				a.log.Error("node label", "err", err)
				l.error = err.Error()
			}
		}
	}
	m := monitor.New(monitor.Options{}, a, a.log)
	m.RegisterProcessMetrics()
	reg := m.Registry()
	reg.MustRegister(a.Collector())
	var att *Attributor
	if o.Attribution {
		att = &Attributor{Resolver: &Resolver{Proc: a.host.Paths.Proc, Root: o.RuntimeRoot}}
		reg.MustRegister(att)
		m.OnDenial = att.Observe
	}
	listen := o.Listen
	if listen == "" {
		listen = DefaultListen
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := &http.Server{Handler: a.Handler(reg, att), ReadHeaderTimeout: 10 * time.Second}
	a.log.Info("serving /healthz /readyz /status /metrics", "addr", ln.Addr().String(), "attribution", o.Attribution)
	if o.Listening != nil {
		o.Listening(ln.Addr().String())
	}
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serve: %w", err)
			cancel()
		}
	})
	wg.Go(func() {
		<-ctx.Done()
		shut, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		srv.Shutdown(shut)
	})
	if att != nil {
		keeper := newEventKeeper(a)
		r := &monitor.Runner{Monitor: m, Specs: o.Sources, Logger: a.log, OnEvent: keeper.observe}
		wg.Go(func() { r.Run(ctx) })
		wg.Go(func() { keeper.run(ctx, a) })
	}
	if lock, err := a.lockState(ctx); err == nil {
		defer lock.Close()
		a.Run(ctx)
	} else if ctx.Err() == nil {
		errc <- err
	}
	cancel()
	wg.Wait()
	close(errc)
	return <-errc
}
