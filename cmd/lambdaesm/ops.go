package main

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lambdaesm/lambdaesm/esm"
)

// opsRoutes serves /healthz and /metrics.
func opsRoutes(reg *esm.Registry, prom *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(prom, promhttp.HandlerOpts{Registry: prom}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { healthz(w, reg) })
	return mux
}

// mappingHealth is one mapping in /healthz.
type mappingHealth struct {
	UUID                 string     `json:"uuid"`
	FunctionArn          string     `json:"functionArn"`
	EventSourceArn       string     `json:"eventSourceArn,omitempty"`
	State                esm.State  `json:"state"`
	LastProcessingResult string     `json:"lastProcessingResult,omitempty"`
	Healthy              bool       `json:"healthy"`
	Running              bool       `json:"running"`
	LastPoll             *time.Time `json:"lastPoll,omitempty"`
	LastCheckpoint       *time.Time `json:"lastCheckpoint,omitempty"`
	LastError            string     `json:"lastError,omitempty"`
	LastErrorAt          *time.Time `json:"lastErrorAt,omitempty"`
	CheckpointFailing    []string   `json:"checkpointFailing,omitempty"`
}

type healthReport struct {
	Healthy  bool            `json:"healthy"`
	Store    *storeHealth    `json:"mappingTable,omitempty"`
	Mappings []mappingHealth `json:"mappings"`
}

// storeHealth is the reading of --mapping-table in /healthz.
type storeHealth struct {
	Healthy     bool       `json:"healthy"`
	LastSync    *time.Time `json:"lastSync,omitempty"`
	LastError   string     `json:"lastError,omitempty"`
	LastErrorAt *time.Time `json:"lastErrorAt,omitempty"`
}

// healthz is the readiness probe: 200 when every enabled mapping is
// Enabled, running, has read its source and has no shard failing to
// checkpoint, and --mapping-table (if any) was read within three poll
// intervals; 503 otherwise (starting, changing, failing). A disabled
// mapping does not count.
func healthz(w http.ResponseWriter, reg *esm.Registry) {
	rep := healthReport{Healthy: true, Mappings: []mappingHealth{}}
	if sh := reg.StoreHealth(); sh.Shared {
		rep.Store = &storeHealth{Healthy: sh.Healthy(time.Now()), LastSync: timePtr(sh.LastSync), LastErrorAt: timePtr(sh.LastErrorAt)}
		if sh.LastError != nil {
			rep.Store.LastError = sh.LastError.Error()
		}
		rep.Healthy = rep.Store.Healthy
	}
	for _, info := range reg.List(esm.ListFilter{}) {
		h := info.Health
		mh := mappingHealth{
			UUID: info.UUID, FunctionArn: info.Config.FunctionArn, EventSourceArn: info.Config.EventSourceArn,
			State: info.State, LastProcessingResult: info.LastProcessingResult, Running: h.Running,
			LastPoll: timePtr(h.LastPoll), LastCheckpoint: timePtr(h.LastCheckpoint),
			LastErrorAt: timePtr(h.LastErrorAt), CheckpointFailing: h.CheckpointFailing,
		}
		if h.LastError != nil {
			mh.LastError = h.LastError.Error()
		}
		switch info.State {
		case esm.StateDisabled:
			mh.Healthy = true
		case esm.StateEnabled:
			mh.Healthy = h.Healthy()
		}
		rep.Mappings = append(rep.Mappings, mh)
		rep.Healthy = rep.Healthy && mh.Healthy
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !rep.Healthy {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// stateCollector reports how many mappings are in each state.
type stateCollector struct{ reg *esm.Registry }

var mappingsDesc = prometheus.NewDesc("lambdaesm_event_source_mappings", "Event source mappings of this process, by state.", []string{"state"}, nil)

var allStates = []esm.State{esm.StateCreating, esm.StateEnabling, esm.StateEnabled, esm.StateDisabling, esm.StateDisabled, esm.StateUpdating, esm.StateDeleting}

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- mappingsDesc }

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	n := map[esm.State]int{}
	for _, info := range c.reg.List(esm.ListFilter{}) {
		n[info.State]++
	}
	for _, s := range allStates {
		ch <- prometheus.MustNewConstMetric(mappingsDesc, prometheus.GaugeValue, float64(n[s]), string(s))
	}
}
