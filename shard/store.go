package shard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Checkpoint is how far a mapping got in one shard: every record up to and
// including SequenceNumber was handled (or discarded by policy), and when
// ShardEnd is set the shard was read to its end and fully handled.
type Checkpoint struct {
	SequenceNumber string `json:"sequenceNumber,omitempty"`
	ShardEnd       bool   `json:"shardEnd,omitempty"`
}

// Store keeps checkpoints. Implementations must be safe for concurrent use.
//
// A lease-fenced store (several replicas sharing one stream) returns an error
// wrapping [ErrLeaseLost] from Save when the caller no longer holds the shard;
// the engine then stops that shard at once and never saves it again.
type Store interface {
	// Load returns the checkpoint of a shard; ok is false when there is none.
	Load(ctx context.Context, mapping, shardID string) (cp Checkpoint, ok bool, err error)
	// Save records a checkpoint. A store never moves a checkpoint backwards:
	// saving an older sequence number than the stored one is a no-op.
	Save(ctx context.Context, mapping, shardID string, cp Checkpoint) error
}

// ErrLeaseLost is wrapped by a lease-fenced [Store] when a checkpoint is saved
// by a process that no longer owns the shard.
var ErrLeaseLost = errors.New("shard: lease lost")

// CompareSequence compares two stream sequence numbers (decimal strings of any
// length, possibly zero-padded) as numbers: -1, 0 or +1.
func CompareSequence(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// advances reports whether next moves forward from prev (or equals it).
func advances(prev, next Checkpoint) bool {
	if prev.ShardEnd {
		return next.ShardEnd
	}
	if next.ShardEnd {
		return true
	}
	return CompareSequence(next.SequenceNumber, prev.SequenceNumber) >= 0
}

// MemoryStore is a [Store] in memory, for tests and for mappings that may
// start over after a restart.
type MemoryStore struct {
	mu  sync.Mutex
	cps map[string]Checkpoint
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore { return &MemoryStore{cps: map[string]Checkpoint{}} }

// Load implements [Store].
func (s *MemoryStore) Load(_ context.Context, mapping, shardID string) (Checkpoint, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp, ok := s.cps[mapping+"\x00"+shardID]
	return cp, ok, nil
}

// Save implements [Store].
func (s *MemoryStore) Save(_ context.Context, mapping, shardID string, cp Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := mapping + "\x00" + shardID
	if prev, ok := s.cps[k]; ok && !advances(prev, cp) {
		return nil
	}
	s.cps[k] = cp
	return nil
}

// FileStore is the default [Store]: one JSON file per mapping in a directory,
// replaced atomically (write, fsync, rename, fsync the directory) on every
// save, so a single process resumes where it stopped after a restart or a
// crash, with no AWS resources.
type FileStore struct {
	dir string
	mu  sync.Mutex
	// cache holds each mapping's file content, loaded once.
	cache map[string]map[string]Checkpoint
}

// NewFileStore returns a store writing into dir, which is created if needed
// on the first save.
func NewFileStore(dir string) *FileStore {
	return &FileStore{dir: dir, cache: map[string]map[string]Checkpoint{}}
}

func (s *FileStore) path(mapping string) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, mapping)
	return filepath.Join(s.dir, name+".checkpoints.json")
}

// load returns the mapping's checkpoints; s.mu is held.
func (s *FileStore) load(mapping string) (map[string]Checkpoint, error) {
	if m, ok := s.cache[mapping]; ok {
		return m, nil
	}
	m := map[string]Checkpoint{}
	b, err := os.ReadFile(s.path(mapping))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("shard: reading checkpoints: %w", err)
	default:
		var f struct {
			Shards map[string]Checkpoint `json:"shards"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("shard: checkpoint file %s is corrupt: %w", s.path(mapping), err)
		}
		if f.Shards != nil {
			m = f.Shards
		}
	}
	s.cache[mapping] = m
	return m, nil
}

// Load implements [Store].
func (s *FileStore) Load(_ context.Context, mapping, shardID string) (Checkpoint, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load(mapping)
	if err != nil {
		return Checkpoint{}, false, err
	}
	cp, ok := m[shardID]
	return cp, ok, nil
}

// Save implements [Store].
func (s *FileStore) Save(_ context.Context, mapping, shardID string, cp Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load(mapping)
	if err != nil {
		return err
	}
	if prev, ok := m[shardID]; ok && (prev == cp || !advances(prev, cp)) {
		return nil
	}
	m[shardID] = cp
	b, err := json.MarshalIndent(struct {
		Mapping string                `json:"mapping"`
		Shards  map[string]Checkpoint `json:"shards"`
	}{mapping, m}, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.path(mapping), b)
}

func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("shard: checkpoint directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".checkpoint-*")
	if err != nil {
		return fmt.Errorf("shard: writing checkpoints: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("shard: writing checkpoints: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
