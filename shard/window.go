package shard

import (
	"maps"
	"time"
)

// Window is the tumbling window a shard's checkpoint is in: the window's
// start and the state the function returned for the window's records up to
// the checkpoint (TumblingWindowInSeconds; see the package documentation,
// "Tumbling windows"). The window's end is its start plus the mapping's
// window length.
type Window struct {
	Start time.Time         `json:"start"`
	State map[string]string `json:"state"`
}

// same tells whether two windows (nil for none) are equal.
func (w *Window) same(o *Window) bool {
	if w == nil || o == nil {
		return w == o
	}
	return w.Start.Equal(o.Start) && maps.Equal(w.State, o.State) && (w.State == nil) == (o.State == nil)
}

// WindowStateLimiter is implemented by a [Store] that cannot keep a window
// state of Lambda's maximum, 1 MB (a DynamoDB item holds 400 KB): a window
// whose state grows beyond MaxWindowState bytes of JSON is then terminated
// early, as Lambda terminates one whose state exceeds 1 MB.
type WindowStateLimiter interface {
	MaxWindowState() int
}
