package main

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes serves /metrics and /healthz.
func (w *worker) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(w.reg, promhttp.HandlerOpts{Registry: w.reg}))
	mux.HandleFunc("GET /healthz", w.healthz)
	return mux
}

// mappingHealth is a mapping's esm.Health as JSON.
type mappingHealth struct {
	Healthy           bool       `json:"healthy"`
	Running           bool       `json:"running"`
	LastPoll          *time.Time `json:"lastPoll,omitempty"`
	LastCheckpoint    *time.Time `json:"lastCheckpoint,omitempty"`
	LastError         string     `json:"lastError,omitempty"`
	LastErrorAt       *time.Time `json:"lastErrorAt,omitempty"`
	CheckpointFailing []string   `json:"checkpointFailing,omitempty"`
}

type healthReport struct {
	Healthy  bool                     `json:"healthy"`
	Mappings map[string]mappingHealth `json:"mappings"`
}

// healthz is the readiness probe: 200 when every mapping is healthy
// (running, has read its source, no shard failing to checkpoint), 503
// otherwise (starting, failing or shutting down).
func (w *worker) healthz(rw http.ResponseWriter, _ *http.Request) {
	rep := healthReport{Healthy: true, Mappings: map[string]mappingHealth{}}
	for _, nm := range w.mappings {
		h := nm.m.Health()
		mh := mappingHealth{
			Healthy: h.Healthy(), Running: h.Running,
			LastPoll: timePtr(h.LastPoll), LastCheckpoint: timePtr(h.LastCheckpoint),
			LastErrorAt: timePtr(h.LastErrorAt), CheckpointFailing: h.CheckpointFailing,
		}
		if h.LastError != nil {
			mh.LastError = h.LastError.Error()
		}
		rep.Mappings[nm.name] = mh
		rep.Healthy = rep.Healthy && mh.Healthy
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	if !rep.Healthy {
		rw.WriteHeader(http.StatusServiceUnavailable)
	}
	enc := json.NewEncoder(rw)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
