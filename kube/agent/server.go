package agent

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves /healthz (the process runs), /readyz (every profile of
// the ConfigMap is loaded: 503 with the reason until then), /status (JSON,
// per profile), /metrics (reg) and, when att is not nil, /denials (the
// recent denials with their pods, JSON).
func (a *Agent) Handler(reg *prometheus.Registry, att *Attributor) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-a.reconciled:
		default:
			http.Error(w, "not ready: loading the profiles", http.StatusServiceUnavailable)
			return
		}
		st := a.Status()
		if !st.Ready {
			http.Error(w, "not ready: "+st.NotReady, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, a.Status())
	})
	if reg != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			ErrorLog:      slog.NewLogLogger(a.log.Handler(), slog.LevelError),
			ErrorHandling: promhttp.ContinueOnError,
		}))
	}
	if att != nil {
		mux.HandleFunc("GET /denials", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, att.Recent())
		})
	}
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
