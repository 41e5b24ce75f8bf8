package queueengine

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCheckQueue(t *testing.T) {
	const dlq = `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":5}`
	attrs := func(vt string, fifo bool, policy string) map[string]string {
		m := map[string]string{"VisibilityTimeout": vt, "QueueArn": "arn:aws:sqs:us-east-1:000000000000:q"}
		if fifo {
			m["FifoQueue"] = "true"
		}
		if policy != "" {
			m["RedrivePolicy"] = policy
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		set      Settings
		attrs    map[string]string
		err      string
		warnings []string // substrings, in order
		recvVT   int32
		hb       time.Duration
	}{
		{name: "fine", set: Settings{FunctionTimeout: 3 * time.Second, BatchSize: 10}, attrs: attrs("30", false, dlq)},
		{name: "visibility shorter than the function timeout", set: Settings{FunctionTimeout: 180 * time.Second},
			attrs: attrs("60", false, dlq), err: "Queue visibility timeout: 60 seconds is less than Function timeout: 180 seconds"},
		{name: "below six times the timeout plus window", set: Settings{FunctionTimeout: 10 * time.Second, BatchingWindow: 5 * time.Second},
			attrs: attrs("60", false, dlq), warnings: []string{"less than AWS's recommendation of 6 × function timeout + batching window (65 seconds)"}},
		{name: "no redrive policy", set: Settings{FunctionTimeout: 3 * time.Second}, attrs: attrs("30", false, ""),
			warnings: []string{"the queue has no redrive policy"}},
		{name: "low maxReceiveCount", set: Settings{FunctionTimeout: 3 * time.Second}, attrs: attrs("30", false, `{"deadLetterTargetArn":"x","maxReceiveCount":"2"}`),
			warnings: []string{"maxReceiveCount 2, below the 5 AWS recommends"}},
		{name: "window plus timeout above visibility", set: Settings{FunctionTimeout: 20 * time.Second, BatchingWindow: 20 * time.Second},
			attrs: attrs("30", false, dlq), recvVT: 70, warnings: []string{"6 × function timeout"}},
		{name: "FIFO batch size and window", set: Settings{FunctionTimeout: 3 * time.Second, BatchSize: 11, BatchingWindow: time.Second},
			attrs: attrs("30", true, dlq), err: "BatchSize 11 is above 10, the most for a FIFO queue\nBatching window is not supported for FIFO queues"},
		{name: "heartbeat allows a short visibility", set: Settings{FunctionTimeout: 60 * time.Second, VisibilityHeartbeat: true},
			attrs: attrs("10", false, dlq), hb: 5 * time.Second},
		{name: "heartbeat interval", set: Settings{FunctionTimeout: 60 * time.Second, VisibilityHeartbeat: true, HeartbeatInterval: 2 * time.Second},
			attrs: attrs("10", false, dlq), hb: 2 * time.Second},
		{name: "heartbeat interval too long", set: Settings{FunctionTimeout: 60 * time.Second, VisibilityHeartbeat: true, HeartbeatInterval: 10 * time.Second},
			attrs: attrs("10", false, dlq), err: "heartbeat interval 10s is not shorter than the queue visibility timeout of 10 seconds"},
		{name: "heartbeat needs a visibility timeout", set: Settings{FunctionTimeout: 60 * time.Second, VisibilityHeartbeat: true},
			attrs: attrs("0", false, dlq), err: "the visibility heartbeat needs a queue visibility timeout of at least 1 second, not 0"},
		{name: "heartbeat with a long window", set: Settings{FunctionTimeout: 60 * time.Second, VisibilityHeartbeat: true, BatchingWindow: 30 * time.Second},
			attrs: attrs("10", false, dlq), hb: 5 * time.Second, recvVT: 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, warnings, err := checkQueue(tc.set, tc.attrs)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Len(t, warnings, len(tc.warnings), "%q", warnings)
			for i, w := range tc.warnings {
				require.True(t, strings.Contains(warnings[i], w), "warning %q lacks %q", warnings[i], w)
			}
			require.Equal(t, tc.recvVT, q.recvVT)
			require.Equal(t, tc.hb, q.heartbeat)
		})
	}
}

func TestEventSizeCountsEscapes(t *testing.T) {
	require.Equal(t, 3, jsonLen("abc"))
	require.Equal(t, 4, jsonLen(`a"c`))
	require.Equal(t, 8, jsonLen("a\x01c"))
}
