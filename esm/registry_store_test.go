package esm_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/esm"
)

func TestFileMappingStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "mappings.json")
	s := esm.NewFileMappingStore(path)
	recs, err := s.LoadMappings(t.Context())
	require.NoError(t, err)
	require.Empty(t, recs, "no file yet: no mappings")

	created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	full := esm.Config{
		EventSourceArn: "arn:aws:kinesis:us-east-1:123456789012:stream/orders", FunctionName: "fn:live",
		StartingPosition: esm.AtTimestamp, StartingPositionTimestamp: time.Unix(1700000000, 500000000).UTC(),
		BatchSize: 50, MaximumBatchingWindow: 2 * time.Second, ParallelizationFactor: 3, Enabled: new(false),
		MaximumRetryAttempts: new(0), MaximumRecordAge: time.Hour, BisectBatchOnFunctionError: true,
		FunctionResponseTypes: []esm.FunctionResponseType{esm.ReportBatchItemFailures},
		DestinationConfig:     &esm.DestinationConfig{OnFailure: &esm.Destination{Destination: "arn:aws:sqs:us-east-1:123456789012:dlq"}},
		FilterCriteria:        &esm.FilterCriteria{Filters: []esm.Filter{{Pattern: `{"partitionKey": ["a"]}`}}},
		FunctionTimeout:       30 * time.Second,
	}
	require.NoError(t, s.PutMapping(t.Context(), esm.MappingRecord{UUID: "b", Config: full, Created: created.Add(time.Second), LastModified: created}))
	require.NoError(t, s.PutMapping(t.Context(), esm.MappingRecord{UUID: "a", Config: esm.Config{EventSourceArn: "arn:aws:sqs:us-east-1:123456789012:q", FunctionName: "g"}, Created: created, LastModified: created}))

	again, err := esm.NewFileMappingStore(path).LoadMappings(t.Context())
	require.NoError(t, err)
	require.Len(t, again, 2)
	require.Equal(t, "a", again[0].UUID, "oldest first")
	require.Equal(t, full, again[1].Config, "every field survives the file")
	require.True(t, again[1].Created.Equal(created.Add(time.Second)))

	require.NoError(t, s.DeleteMapping(t.Context(), "a"))
	require.NoError(t, s.DeleteMapping(t.Context(), "a"), "deleting what is not there is no error")
	again, err = esm.NewFileMappingStore(path).LoadMappings(t.Context())
	require.NoError(t, err)
	require.Len(t, again, 1)
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left behind")

	for name, body := range map[string]string{
		"not json":    `{`,
		"version 2":   `{"version": 2, "mappings": []}`,
		"bad mapping": `{"version": 1, "mappings": [{"UUID": "x", "Config": {"BatchSize": "ten"}}]}`,
	} {
		p := filepath.Join(dir, name+".json")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		_, err := esm.NewFileMappingStore(p).LoadMappings(t.Context())
		require.Error(t, err, name)
		require.ErrorContains(t, err, p, name)
	}
}
