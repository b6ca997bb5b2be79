package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/armorer-dev/armorer/internal/buildinfo"
	"github.com/armorer-dev/armorer/kube"
	"github.com/armorer-dev/armorer/kube/apiclient"
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
	// PublishEvents has the agent publish its complain-mode accesses in
	// PublishNode's events ConfigMap in EventsNamespace (Publisher),
	// every PublishInterval. It needs Attribution.
	PublishEvents   bool
	PublishNode     string
	EventsNamespace string
	PublishInterval time.Duration
	// Client is the API client for NodeName's label and PublishEvents;
	// default the pod's service account (InClusterClient).
	Client *apiclient.Client
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
	if o.PublishEvents && (o.PublishNode == "" || !o.Attribution || o.EventsNamespace == "") {
		return errors.New("publishing events needs the node's name, attribution (the events are read with the denials) and a namespace")
	}
	client := o.Client
	if client == nil && (o.NodeName != "" || o.PublishEvents) {
		c, err := InClusterClient()
		if err != nil {
			return fmt.Errorf("the API (node label, events): %w", err)
		}
		client = c
	}
	if o.NodeName != "" {
		l := &NodeLabeler{Client: client, Node: o.NodeName}
		a.afterReconcile = func(ctx context.Context, st Status) {
			if err := l.Update(ctx, st); err != nil && err.Error() != l.error {
				a.log.Error("node label", "err", err)
				l.error = err.Error()
			}
		}
	}
	bi := buildinfo.Get()
	m := monitor.New(monitor.Options{Build: monitor.BuildInfo{Version: bi.Version, Revision: bi.Commit, GoVersion: bi.GoVersion}}, a, a.log)
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
		if o.PublishEvents {
			keeper.publish = &Publisher{Client: client, Namespace: o.EventsNamespace, Node: o.PublishNode,
				Interval: o.PublishInterval, Logger: a.log.With("publish", kube.EventsConfigMapName(o.PublishNode))}
			reg.MustRegister(keeper.publish)
			wg.Go(func() { keeper.publish.Run(ctx, a.owns) })
		}
		r := &monitor.Runner{Monitor: m, Specs: o.Sources, Logger: a.log, OnEvent: keeper.observe}
		wg.Go(func() { r.Run(ctx) })
		wg.Go(func() { keeper.run(ctx, a) })
	}
	if lock, err := a.lockState(ctx); err == nil {
		defer lock.Unlock()
		a.Run(ctx)
	} else if ctx.Err() == nil {
		errc <- err
	}
	cancel()
	wg.Wait()
	close(errc)
	return <-errc
}

// owns reports whether the agent's last reconcile has profile loaded
// (the published accesses of other profiles are removed); before the
// first reconcile it knows nothing and keeps all.
func (a *Agent) owns(profile string) bool {
	select {
	case <-a.reconciled:
	default:
		return true
	}
	for _, p := range a.Status().Profiles {
		if p.Name == profile && p.Loaded {
			return true
		}
	}
	return false
}
