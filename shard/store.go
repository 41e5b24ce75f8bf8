package shard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Checkpoint is how far a mapping got in one shard: every record up to and
// including SequenceNumber was handled (or discarded by policy), and when
// ShardEnd is set the shard was read to its end and fully handled.
//
// A checkpoint with only Start set marks a shard that was started but has
// no finished record yet: Start is the position the mapping's LATEST or
// AT_TIMESTAMP starting position resolved to when the shard was first read.
// It is saved before the first read, so a restarted process, or a replica
// that takes the shard over, resumes there instead of resolving LATEST
// again (which would skip every record written in between).
type Checkpoint struct {
	SequenceNumber string    `json:"sequenceNumber,omitempty"`
	ShardEnd       bool      `json:"shardEnd,omitempty"`
	Start          time.Time `json:"start,omitzero"`
}

// same tells whether two checkpoints are equal.
func (c Checkpoint) same(o Checkpoint) bool {
	return c.SequenceNumber == o.SequenceNumber && c.ShardEnd == o.ShardEnd && c.Start.Equal(o.Start)
}

// started tells that the checkpoint is only a start marker.
func (c Checkpoint) started() bool { return c.SequenceNumber == "" && !c.ShardEnd }

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

// advances reports whether next may replace prev: it moves forward (or
// stays). A sequence number or the shard end replaces a start marker; a
// start marker replaces nothing, so the first one saved is kept.
func advances(prev, next Checkpoint) bool {
	switch {
	case prev.ShardEnd:
		return next.ShardEnd
	case next.ShardEnd:
		return true
	case next.started():
		return false
	case prev.started():
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

// ErrStoreUnusable is wrapped by a [Store]'s errors that no retry can heal: a
// checkpoint file that belongs to another mapping or is corrupt, or a
// directory that cannot be written (permission denied, read-only file
// system). The engine then stops, and Run returns the error, rather than
// retrying forever.
var ErrStoreUnusable = errors.New("shard: checkpoint store unusable")

// FileStore is the default [Store]: one JSON file per mapping in a directory,
// replaced atomically (write, fsync, rename, fsync the directory) on every
// save, so a single process resumes where it stopped after a restart or a
// crash, with no AWS resources.
//
// A mapping's file is named after the mapping (made safe for file names and
// cut to 64 bytes) and a SHA-256 hash of the exact mapping name, so two
// mappings never share a file and any legal stream, table or mapping name
// works. The file records the mapping's name; loading a file that names
// another mapping is an error wrapping [ErrStoreUnusable], never silently
// used. Temporary files that a kill during a write left behind are removed
// when the mapping is first loaded.
type FileStore struct {
	dir string
	mu  sync.Mutex
	// cache holds each mapping's file content, loaded once.
	cache map[string]map[string]Checkpoint
	// write replaces a file atomically: writeFileAtomic, or a test's
	// counting or failing stand-in.
	write func(path string, b []byte) error
}

// NewFileStore returns a store writing into dir, which is created if needed
// on the first save.
func NewFileStore(dir string) *FileStore {
	return &FileStore{dir: dir, cache: map[string]map[string]Checkpoint{}, write: writeFileAtomic}
}

// fileBase is the readable part of a mapping's file name.
func fileBase(mapping string) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, mapping)
	return strings.TrimLeft(name, ".") // no hidden files, no "..": the hash follows anyway
}

func (s *FileStore) path(mapping string) string {
	base := fileBase(mapping)
	if len(base) > 64 {
		base = base[:64]
	}
	return filepath.Join(s.dir, base+"-"+mappingKey(mapping)[:32]+".checkpoints.json")
}

// legacyPath is where versions before the hashed names kept a mapping's
// file; it is read when the new file does not exist yet, and only if it
// names the same mapping.
func (s *FileStore) legacyPath(mapping string) string {
	return filepath.Join(s.dir, fileBase(mapping)+".checkpoints.json")
}

type checkpointFile struct {
	Mapping string `json:"mapping"`
	// Key is the SHA-256 of the exact mapping name (Mapping is for
	// people: JSON cannot keep every byte of a name).
	Key    string                `json:"key,omitempty"`
	Shards map[string]Checkpoint `json:"shards"`
}

func mappingKey(mapping string) string {
	sum := sha256.Sum256([]byte(mapping))
	return hex.EncodeToString(sum[:])
}

// names tells whether a file belongs to mapping.
func (f checkpointFile) names(mapping string) bool {
	if f.Key != "" {
		return f.Key == mappingKey(mapping)
	}
	return f.Mapping == mapping // written before keys were recorded
}

// load returns the mapping's checkpoints; s.mu is held.
func (s *FileStore) load(mapping string) (map[string]Checkpoint, error) {
	if m, ok := s.cache[mapping]; ok {
		return m, nil
	}
	path := s.path(mapping)
	s.removeTemps(path)
	f, err := readCheckpointFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		legacy, lerr := readCheckpointFile(s.legacyPath(mapping))
		if lerr == nil && legacy.names(mapping) {
			f = legacy
		}
	case err != nil:
		return nil, storeError("reading checkpoints", err)
	case !f.names(mapping):
		return nil, fmt.Errorf("%w: checkpoint file %s belongs to mapping %q, not %q", ErrStoreUnusable, path, f.Mapping, mapping)
	}
	m := f.Shards
	if m == nil {
		m = map[string]Checkpoint{}
	}
	s.cache[mapping] = m
	return m, nil
}

func readCheckpointFile(path string) (checkpointFile, error) {
	var f checkpointFile
	b, err := os.ReadFile(path)
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%w: checkpoint file %s is corrupt: %w", ErrStoreUnusable, path, err)
	}
	return f, nil
}

// removeTemps deletes the temporary files of path that a process killed
// while writing left behind.
func (s *FileStore) removeTemps(path string) {
	olds, _ := filepath.Glob(path + ".tmp-*")
	for _, o := range olds {
		os.Remove(o)
	}
}

// storeError wraps a file system error, marking those no retry heals.
func storeError(doing string, err error) error {
	if errors.Is(err, ErrStoreUnusable) {
		return err
	}
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) ||
		errors.Is(err, syscall.ENAMETOOLONG) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %s: %w", ErrStoreUnusable, doing, err)
	}
	return fmt.Errorf("shard: %s: %w", doing, err)
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
	prev, had := m[shardID]
	if had && (prev.same(cp) || !advances(prev, cp)) {
		return nil
	}
	m[shardID] = cp
	b, err := json.MarshalIndent(checkpointFile{Mapping: mapping, Key: mappingKey(mapping), Shards: m}, "", "  ")
	if err == nil {
		err = s.write(s.path(mapping), b)
	}
	if err != nil {
		// Not saved: keep what the file holds, so a retry writes again.
		if had {
			m[shardID] = prev
		} else {
			delete(m, shardID)
		}
		return storeError("writing checkpoints", err)
	}
	return nil
}

func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
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
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
