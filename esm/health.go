package esm

import (
	"time"

	"github.com/lambdaesm/lambdaesm/internal/core"
)

// Health is what a mapping reports for a readiness or liveness probe. It is a
// snapshot: call the mapping's Health method again for a fresh one.
type Health struct {
	// Running tells that Run is reading (it started and has not returned).
	Running bool
	// LastPoll is when the source last answered a read (zero before the
	// first).
	LastPoll time.Time
	// LastCheckpoint is when a checkpoint was last written (streams; zero
	// for SQS).
	LastCheckpoint time.Time
	// LastError is the last error that happened in the background (a
	// failed read, discovery or checkpoint write, retried), and LastErrorAt
	// when; nil when there was none.
	LastError   error
	LastErrorAt time.Time
	// CheckpointFailing lists the shards whose last checkpoint write
	// failed: they read no new records until a write succeeds.
	CheckpointFailing []string
}

// Healthy reports whether the mapping is running, has read its source at
// least once, and has no shard whose checkpoints are failing: what a
// readiness probe should check.
func (h Health) Healthy() bool {
	return h.Running && !h.LastPoll.IsZero() && len(h.CheckpointFailing) == 0
}

func healthOf(s core.HealthSnapshot) Health {
	return Health{
		Running: s.Running, LastPoll: s.LastPoll, LastCheckpoint: s.LastCheckpoint,
		LastError: s.LastError, LastErrorAt: s.LastErrorAt, CheckpointFailing: s.Failing,
	}
}

// Health reports the mapping's health.
func (m *KinesisMapping) Health() Health { return healthOf(m.eng.Health()) }

// Health reports the mapping's health.
func (m *DynamoDBMapping) Health() Health { return healthOf(m.eng.Health()) }

// Health reports the mapping's health.
func (m *SQSMapping) Health() Health { return healthOf(m.eng.Health()) }
