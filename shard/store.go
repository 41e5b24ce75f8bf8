package shard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lambdaesm/lambdaesm/internal/seqnum"
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
//
// A mapping with a tumbling window (TumblingWindowInSeconds) also keeps the
// window open at SequenceNumber and its state in Window, so that a restart
// or a lease hand-off resumes the aggregate instead of resetting it; nil
// when no window is open. A store keeps it with the sequence number, in one
// write.
type Checkpoint struct {
	SequenceNumber string    `json:"sequenceNumber,omitempty"`
	ShardEnd       bool      `json:"shardEnd,omitempty"`
	Start          time.Time `json:"start,omitzero"`
	Window         *Window   `json:"window,omitempty"`
}

// same tells whether two checkpoints are equal.
func (c Checkpoint) same(o Checkpoint) bool {
	return c.SequenceNumber == o.SequenceNumber && c.ShardEnd == o.ShardEnd && c.Start.Equal(o.Start) &&
		c.Window.same(o.Window)
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
	return seqnum.Compare(next.SequenceNumber, prev.SequenceNumber) >= 0
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
// holding the checkpoints of all the mapping's shards, replaced atomically
// (write, fsync, rename, fsync the directory), so a single process resumes
// where it stopped after a restart or a crash, with no AWS resources.
//
// Writes are group commits: a save that finds no write under way waits a
// millisecond for the saves of the mapping's other shards (the stream
// engine saves every shard on the same ticks), and the checkpoints saved
// while the mapping's file is being written are written together by the
// next write, so the shards of a mapping share one write per round of
// saves instead of making one each, and different mappings write in
// parallel. Save
// returns only once a write holding its checkpoint (or a later one of the
// shard) is durable; a failed write fails every Save it carried, and none of
// their checkpoints is kept as if written. A Save whose context ends while
// it waits returns the context's error, though its checkpoint may still be
// written. Load returns what the file holds, never a checkpoint still being
// written.
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
	// write replaces a file atomically: writeFileAtomic, or a test's
	// counting or failing stand-in.
	write func(path string, b []byte) error

	mu     sync.Mutex
	files  map[string]*mappingFile
	writes atomic.Int64
}

// Writes counts the file writes so far (each a write, an fsync, a rename
// and an fsync of the directory): what checkpoints cost the disk, since
// saves of several shards share a write.
func (s *FileStore) Writes() int64 { return s.writes.Load() }

// NewFileStore returns a store writing into dir, which is created if needed
// on the first save.
func NewFileStore(dir string) *FileStore {
	return &FileStore{dir: dir, files: map[string]*mappingFile{}, write: writeFileAtomic}
}

// mappingFile is one mapping's checkpoints and the group commit of its file.
// A checkpoint moves from pending (accepted by Save) to writing (in the
// write under way) to durable (in the file). At most one write runs per
// mapping; it takes every pending checkpoint with it.
type mappingFile struct {
	mapping, path, legacyPath string
	write                     func(path string, b []byte) error
	writes                    *atomic.Int64 // the store's count of file writes

	mu sync.Mutex
	// durable is what the file holds: nil until it was read.
	durable map[string]Checkpoint
	// writing holds the checkpoints of the write under way, which ends
	// with cur; nil when no write runs.
	writing map[string]Checkpoint
	cur     *commit
	// pending holds the checkpoints saved since that write began: the next
	// write, which ends with next, takes them all.
	pending map[string]Checkpoint
	next    *commit
}

// commit is the end of one write: done is closed once err is set.
type commit struct {
	done chan struct{}
	err  error
}

// wait returns the write's error once it is done, or ctx's error if ctx
// ends first.
func (c *commit) wait(ctx context.Context) error {
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		select {
		case <-c.done: // both ready: the write's outcome is the answer
			return c.err
		default:
		}
		return fmt.Errorf("shard: waiting for the checkpoint write: %w", context.Cause(ctx))
	}
}

// file returns the mapping's state, creating it on first use.
func (s *FileStore) file(mapping string) *mappingFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[mapping]
	if !ok {
		f = &mappingFile{mapping: mapping, path: s.path(mapping), legacyPath: s.legacyPath(mapping), write: s.write, writes: &s.writes}
		s.files[mapping] = f
	}
	return f
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

// load reads the mapping's file once; f.mu is held. A failed read is tried
// again by the next call.
func (f *mappingFile) load() error {
	if f.durable != nil {
		return nil
	}
	removeTemps(f.path)
	file, err := readCheckpointFile(f.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		legacy, lerr := readCheckpointFile(f.legacyPath)
		if lerr == nil && legacy.names(f.mapping) {
			file = legacy // the first write copies it to the new name
		}
	case err != nil:
		return storeError("reading checkpoints", err)
	case !file.names(f.mapping):
		return fmt.Errorf("%w: checkpoint file %s belongs to mapping %q, not %q", ErrStoreUnusable, f.path, file.Mapping, f.mapping)
	}
	f.durable = file.Shards
	if f.durable == nil {
		f.durable = map[string]Checkpoint{}
	}
	return nil
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
func removeTemps(path string) {
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

// Load implements [Store]. It returns the checkpoint the file holds.
func (s *FileStore) Load(_ context.Context, mapping, shardID string) (Checkpoint, bool, error) {
	f := s.file(mapping)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.load(); err != nil {
		return Checkpoint{}, false, err
	}
	cp, ok := f.durable[shardID]
	return cp, ok, nil
}

// Save implements [Store]. It returns once a write holding cp, or a later
// checkpoint of the shard, is durable, or with the error of the write that
// carried cp, or when ctx ends.
func (s *FileStore) Save(ctx context.Context, mapping, shardID string, cp Checkpoint) error {
	f := s.file(mapping)
	f.mu.Lock()
	if err := f.load(); err != nil {
		f.mu.Unlock()
		return err
	}
	c := f.add(shardID, cp)
	f.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.wait(ctx)
}

// covers tells whether m holds a checkpoint of shardID that cp would not
// move: the same, or one cp may not replace.
func covers(m map[string]Checkpoint, shardID string, cp Checkpoint) bool {
	prev, ok := m[shardID]
	return ok && (prev.same(cp) || !advances(prev, cp))
}

// add accepts cp and returns the write to wait for, or nil when the file
// already holds cp or a later checkpoint; f.mu is held.
func (f *mappingFile) add(shardID string, cp Checkpoint) *commit {
	if covers(f.durable, shardID, cp) {
		return nil
	}
	// The newest checkpoint of the shard not yet durable: a pending one is
	// newer than the one being written.
	if _, ok := f.pending[shardID]; ok {
		if covers(f.pending, shardID, cp) {
			return f.next
		}
	} else if covers(f.writing, shardID, cp) {
		return f.cur
	}
	if f.next == nil {
		f.pending = map[string]Checkpoint{}
		f.next = &commit{done: make(chan struct{})}
		if f.cur == nil {
			go f.flush()
		}
	}
	f.pending[shardID] = cp
	return f.next
}

// gatherDelay is how long the first save of a round waits for the saves of
// the mapping's other shards before its write begins: short beside the
// write itself (two fsyncs).
const gatherDelay = time.Millisecond

// flush writes the pending checkpoints, and again while Saves added more
// during the write, then ends. Only one flush runs per mapping: add starts
// one when no write is under way (f.cur is nil), and flush clears f.cur only
// when it finds nothing more to write.
func (f *mappingFile) flush() {
	// The saves of a mapping's shards come together (the engine's
	// checkpointers share their ticks): the first waits a moment for the
	// others, so that one write takes them all.
	time.Sleep(gatherDelay)

	f.mu.Lock()
	defer f.mu.Unlock()
	for f.next != nil {
		f.writing, f.cur = f.pending, f.next
		f.pending, f.next = nil, nil
		shards := make(map[string]Checkpoint, len(f.durable)+len(f.writing))
		maps.Copy(shards, f.durable)
		maps.Copy(shards, f.writing)
		f.mu.Unlock()
		err := f.writeFile(shards)
		f.mu.Lock()
		if err == nil {
			f.durable = shards
		}
		// On failure the checkpoints written are dropped: the file keeps
		// what it held, and the Saves that carried them report the error.
		f.cur.err = err
		close(f.cur.done)
		f.writing, f.cur = nil, nil
	}
}

// writeFile replaces the mapping's file with shards.
func (f *mappingFile) writeFile(shards map[string]Checkpoint) error {
	b, err := json.MarshalIndent(checkpointFile{Mapping: f.mapping, Key: mappingKey(f.mapping), Shards: shards}, "", "  ")
	if err == nil {
		f.writes.Add(1)
		err = f.write(f.path, b)
	}
	if err != nil {
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
