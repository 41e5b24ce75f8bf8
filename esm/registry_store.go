package esm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// DefaultMappingFile is where a [Registry] keeps its mapping definitions
// unless RegistryConfig.Store says otherwise: a file relative to the working
// directory, beside the checkpoints ([DefaultCheckpointDir]).
const DefaultMappingFile = ".lambdaesm/mappings.json"

// MappingRecord is one mapping's definition as a [MappingStore] keeps it:
// what was created and last updated, not how it runs.
type MappingRecord struct {
	// UUID identifies the mapping.
	UUID string
	// Config is the configuration as the user gave it (defaults not filled
	// in), Enabled included.
	Config Config
	// Created orders the mappings in lists; LastModified is Lambda's
	// LastModified.
	Created      time.Time
	LastModified time.Time
	// Revision counts the writes of the definition in a
	// [SharedMappingStore]: 1 when it is created, one more at each update.
	// Other stores leave it 0.
	Revision int64
}

// ConflictKey identifies the function and the source of the mapping: two
// mappings with the same key conflict (Lambda's ResourceConflictException),
// whatever their UUIDs. It is the source (a queue by account and name,
// whether named by ARN or URL; a stream by ARN) and the function's ARN with
// its qualifier. It is "" for a configuration that does not validate.
func (r MappingRecord) ConflictKey() string {
	cfg := r.Config.clone()
	if cfg.FunctionName == "" {
		cfg.FunctionName = cfg.FunctionArn
	}
	full, err := cfg.WithDefaults()
	if err != nil {
		return ""
	}
	src, _ := full.EventSource()
	return sourceKey(src) + "|" + full.FunctionArn
}

// skippedMappingsError is what a store returns beside the definitions it
// could read when others could not be decoded (an item written by hand, or
// by a newer version): the registry runs the readable ones and reports the
// rest (the log, StoreHealth) at every read until they are fixed or
// deleted, instead of stopping every replica's sync.
type skippedMappingsError struct{ errs []error }

func (e *skippedMappingsError) Error() string {
	return "esm: mapping store: mappings that cannot be read are ignored: " + errors.Join(e.errs...).Error()
}

func (e *skippedMappingsError) Unwrap() []error { return e.errs }

// MappingStore keeps mapping definitions, so that a restarted process runs
// the same mappings. Implementations must be safe for concurrent use.
// Checkpoints are not its business (see [WithStore]).
type MappingStore interface {
	// LoadMappings returns every definition.
	LoadMappings(ctx context.Context) ([]MappingRecord, error)
	// PutMapping creates or replaces the definition with rec.UUID.
	PutMapping(ctx context.Context, rec MappingRecord) error
	// DeleteMapping removes a definition; removing one that is not there
	// is not an error.
	DeleteMapping(ctx context.Context, uuid string) error
}

// SharedMappingStore is a [MappingStore] that several registries share,
// each in its own process (replicas): a DynamoDB table
// ([DynamoDBMappingStore]), or memory for tests ([MemoryMappingStore]). Its
// writes are conditional, so that two registries cannot both create a
// mapping with one UUID, or two mappings of one function and source (see
// [MappingRecord.ConflictKey]), and an update made from a copy that another
// registry has changed since is refused. It counts its changes, so that
// registries can poll it cheaply and load the definitions only when one
// changed: a [Registry] over a SharedMappingStore does so every
// RegistryConfig.PollInterval, and starts, updates and stops its mappings to
// match.
//
// PutMapping creates or replaces a definition whatever its revision (a
// [*MappingConflictError] when another mapping has its function and
// source); DeleteMapping removes one whatever its revision.
type SharedMappingStore interface {
	MappingStore
	// CreateMapping stores rec unless a definition with its UUID or its
	// ConflictKey exists ([*MappingConflictError]). The record returned
	// is rec as stored, Revision 1.
	CreateMapping(ctx context.Context, rec MappingRecord) (MappingRecord, error)
	// UpdateMapping replaces the definition prev.UUID with next if it is
	// still at prev.Revision: [ErrMappingChanged] when it is not,
	// [ErrMappingNotFound] when it is gone, [*MappingConflictError] when
	// next's ConflictKey is another mapping's. The record returned is next
	// as stored, its Revision one more than prev's.
	UpdateMapping(ctx context.Context, prev, next MappingRecord) (MappingRecord, error)
	// Changes returns the store's change counter: it grows with every
	// write, so a registry that saw it unchanged need not load the
	// definitions again.
	Changes(ctx context.Context) (int64, error)
}

// Errors of a [SharedMappingStore].
var (
	// ErrMappingChanged: another registry changed the definition since it
	// was read.
	ErrMappingChanged = errors.New("esm: the mapping was changed by another registry since it was read")
	// ErrMappingNotFound: no definition has the UUID.
	ErrMappingNotFound = errors.New("esm: no mapping with that UUID in the store")
)

// MappingConflictError is a [SharedMappingStore]'s refusal of a write: the
// mapping UUID holds the UUID written (Key empty), or the function and
// source Key.
type MappingConflictError struct {
	UUID string
	Key  string
}

func (e *MappingConflictError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("esm: a mapping with UUID %s exists", e.UUID)
	}
	return fmt.Sprintf("esm: mapping %s has the same function and source (%s)", e.UUID, e.Key)
}

// MemoryMappingStore is a [SharedMappingStore] in memory: definitions live
// as long as the value. Registries of one process that share it behave as
// replicas sharing a DynamoDB store; for tests.
type MemoryMappingStore struct {
	mu      sync.Mutex
	recs    map[string]MappingRecord
	claims  map[string]string // ConflictKey -> UUID
	changes int64
}

// NewMemoryMappingStore returns an empty store.
func NewMemoryMappingStore() *MemoryMappingStore {
	return &MemoryMappingStore{recs: map[string]MappingRecord{}, claims: map[string]string{}}
}

// LoadMappings implements [MappingStore].
func (s *MemoryMappingStore) LoadMappings(context.Context) ([]MappingRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]MappingRecord, 0, len(s.recs))
	for _, r := range s.recs {
		r.Config = r.Config.clone()
		out = append(out, r)
	}
	sortRecords(out)
	return out, nil
}

// PutMapping implements [MappingStore]: it creates or replaces the
// definition, whatever its revision.
func (s *MemoryMappingStore) PutMapping(_ context.Context, rec MappingRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.recs[rec.UUID]
	_, err := s.write(cur, ok, rec)
	return err
}

// CreateMapping implements [SharedMappingStore].
func (s *MemoryMappingStore) CreateMapping(_ context.Context, rec MappingRecord) (MappingRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.recs[rec.UUID]; ok {
		return MappingRecord{}, &MappingConflictError{UUID: rec.UUID}
	}
	return s.write(MappingRecord{}, false, rec)
}

// UpdateMapping implements [SharedMappingStore].
func (s *MemoryMappingStore) UpdateMapping(_ context.Context, prev, next MappingRecord) (MappingRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.recs[prev.UUID]
	switch {
	case !ok:
		return MappingRecord{}, ErrMappingNotFound
	case cur.Revision != prev.Revision:
		return MappingRecord{}, ErrMappingChanged
	}
	next.UUID = prev.UUID
	return s.write(cur, true, next)
}

// write stores rec in place of cur (present when ok), moving the claim of
// its ConflictKey; the caller holds s.mu.
func (s *MemoryMappingStore) write(cur MappingRecord, ok bool, rec MappingRecord) (MappingRecord, error) {
	key := rec.ConflictKey()
	if holder, held := s.claims[key]; held && holder != rec.UUID && key != "" {
		return MappingRecord{}, &MappingConflictError{UUID: holder, Key: key}
	}
	if ok {
		if old := cur.ConflictKey(); s.claims[old] == rec.UUID {
			delete(s.claims, old)
		}
	}
	if key != "" {
		s.claims[key] = rec.UUID
	}
	rec.Config = rec.Config.clone()
	rec.Revision = cur.Revision + 1
	s.recs[rec.UUID] = rec
	s.changes++
	rec.Config = rec.Config.clone()
	return rec, nil
}

// DeleteMapping implements [MappingStore].
func (s *MemoryMappingStore) DeleteMapping(_ context.Context, uuid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.recs[uuid]
	if !ok {
		return nil
	}
	if key := cur.ConflictKey(); s.claims[key] == uuid {
		delete(s.claims, key)
	}
	delete(s.recs, uuid)
	s.changes++
	return nil
}

// Changes implements [SharedMappingStore].
func (s *MemoryMappingStore) Changes(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changes, nil
}

func sortRecords(recs []MappingRecord) {
	slices.SortFunc(recs, func(a, b MappingRecord) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmpString(a.UUID, b.UUID)
	})
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// FileMappingStore is the default [MappingStore]: every definition in one
// JSON file, replaced atomically on each change (write a temporary file,
// fsync, rename, fsync the directory), so a crash leaves the old definitions
// or the new ones, never a mix. The configurations are in AWS's JSON
// ([Config.MarshalJSON]). One process uses a file at a time: two processes
// sharing it would overwrite each other's changes.
type FileMappingStore struct {
	path string
	mu   sync.Mutex
	recs map[string]MappingRecord // nil until loaded
}

// NewFileMappingStore returns a store keeping definitions in the file at
// path; the file and its directory are created on the first change.
func NewFileMappingStore(path string) *FileMappingStore { return &FileMappingStore{path: path} }

// Path returns the file's path.
func (s *FileMappingStore) Path() string { return s.path }

// mappingFile is the file's JSON.
type mappingFile struct {
	Version  int               `json:"version"`
	Mappings []mappingFileItem `json:"mappings"`
}

type mappingFileItem struct {
	UUID         string          `json:"UUID"`
	Created      time.Time       `json:"Created"`
	LastModified time.Time       `json:"LastModified"`
	Config       json.RawMessage `json:"Config"`
}

// load reads the file once; the caller holds s.mu.
func (s *FileMappingStore) load() error {
	if s.recs != nil {
		return nil
	}
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		s.recs = map[string]MappingRecord{}
		return nil
	}
	if err != nil {
		return fmt.Errorf("esm: mapping store: %w", err)
	}
	var f mappingFile
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("esm: mapping store %s: not a mapping file: %w", s.path, err)
	}
	if f.Version != 1 {
		return fmt.Errorf("esm: mapping store %s: version %d, want 1", s.path, f.Version)
	}
	recs := map[string]MappingRecord{}
	for _, it := range f.Mappings {
		var c Config
		if err := c.UnmarshalJSON(it.Config); err != nil {
			return fmt.Errorf("esm: mapping store %s: mapping %s: %w", s.path, it.UUID, err)
		}
		recs[it.UUID] = MappingRecord{UUID: it.UUID, Config: c, Created: it.Created, LastModified: it.LastModified}
	}
	s.recs = recs
	return nil
}

// LoadMappings implements [MappingStore].
func (s *FileMappingStore) LoadMappings(context.Context) ([]MappingRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(); err != nil {
		return nil, err
	}
	out := make([]MappingRecord, 0, len(s.recs))
	for _, r := range s.recs {
		r.Config = r.Config.clone()
		out = append(out, r)
	}
	sortRecords(out)
	return out, nil
}

// PutMapping implements [MappingStore].
func (s *FileMappingStore) PutMapping(_ context.Context, rec MappingRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(); err != nil {
		return err
	}
	next := copyRecords(s.recs)
	rec.Config = rec.Config.clone()
	next[rec.UUID] = rec
	if err := s.write(next); err != nil {
		return err
	}
	s.recs = next
	return nil
}

// DeleteMapping implements [MappingStore].
func (s *FileMappingStore) DeleteMapping(_ context.Context, uuid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(); err != nil {
		return err
	}
	if _, ok := s.recs[uuid]; !ok {
		return nil
	}
	next := copyRecords(s.recs)
	delete(next, uuid)
	if err := s.write(next); err != nil {
		return err
	}
	s.recs = next
	return nil
}

func copyRecords(m map[string]MappingRecord) map[string]MappingRecord {
	out := make(map[string]MappingRecord, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// write replaces the file with recs, atomically.
func (s *FileMappingStore) write(recs map[string]MappingRecord) error {
	list := make([]MappingRecord, 0, len(recs))
	for _, r := range recs {
		list = append(list, r)
	}
	sortRecords(list)
	f := mappingFile{Version: 1, Mappings: make([]mappingFileItem, len(list))}
	for i, r := range list {
		cfg, err := r.Config.MarshalJSON()
		if err != nil {
			return fmt.Errorf("esm: mapping store: mapping %s: %w", r.UUID, err)
		}
		f.Mappings[i] = mappingFileItem{UUID: r.UUID, Created: r.Created.UTC(), LastModified: r.LastModified.UTC(), Config: cfg}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("esm: mapping store: %w", err)
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("esm: mapping store: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(s.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("esm: mapping store: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, there is nothing to remove
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("esm: mapping store: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("esm: mapping store: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("esm: mapping store: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("esm: mapping store: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // the rename reaches the disk; not every file system can sync a directory
		d.Close()
	}
	return nil
}

var (
	_ SharedMappingStore = (*MemoryMappingStore)(nil)
	_ MappingStore       = (*FileMappingStore)(nil)
)
