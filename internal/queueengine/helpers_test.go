package queueengine_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/lambdaesm/lambdaesm"
	"github.com/lambdaesm/lambdaesm/esm/esmtest"
	"github.com/lambdaesm/lambdaesm/internal/queueengine"
	"github.com/lambdaesm/lambdaesm/queue"
)

// The integration tests' SDK clients keep idle connections to the emulator.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"))
}

// recorder wraps the fake SQS and records what the engine asked: every
// receive's input, and which message IDs were deleted.
type recorder struct {
	*esmtest.SQS
	mu       sync.Mutex
	receives []sqs.ReceiveMessageInput
	handleID map[string]string // receipt handle -> message ID
	deleted  []string          // message IDs, in deletion order
	changes  []sqs.ChangeMessageVisibilityBatchInput
}

func newRecorder(opts ...esmtest.SQSOption) *recorder {
	return &recorder{SQS: esmtest.NewSQS(opts...), handleID: map[string]string{}}
}

// newQueue returns a recorder holding one queue with these attributes and n
// messages whose bodies are "0", "1", ….
func newQueue(t *testing.T, name string, attrs map[string]string, n int) (q *recorder, url, arn string) {
	t.Helper()
	q = newRecorder()
	url, arn = q.MustCreateQueue(t, name, attrs)
	for i := range n {
		q.Send(t, url, strconv.Itoa(i))
	}
	return q, url, arn
}

func (r *recorder) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	r.mu.Lock()
	cp := *in
	if in.ReceiveRequestAttemptId != nil {
		cp.ReceiveRequestAttemptId = new(*in.ReceiveRequestAttemptId)
	}
	r.receives = append(r.receives, cp)
	r.mu.Unlock()
	out, err := r.SQS.ReceiveMessage(ctx, in, opts...)
	if err == nil {
		r.mu.Lock()
		for _, m := range out.Messages {
			r.handleID[*m.ReceiptHandle] = *m.MessageId
		}
		r.mu.Unlock()
	}
	return out, err
}

func (r *recorder) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	out, err := r.SQS.DeleteMessageBatch(ctx, in, opts...)
	if err == nil {
		r.mu.Lock()
		byID := map[string]string{}
		for _, e := range in.Entries {
			byID[*e.Id] = *e.ReceiptHandle
		}
		for _, s := range out.Successful {
			r.deleted = append(r.deleted, r.handleID[byID[*s.Id]])
		}
		r.mu.Unlock()
	}
	return out, err
}

func (r *recorder) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	r.mu.Lock()
	cp := *in
	cp.Entries = append(cp.Entries[:0:0], in.Entries...)
	r.changes = append(r.changes, cp)
	r.mu.Unlock()
	return r.SQS.ChangeMessageVisibilityBatch(ctx, in, opts...)
}

func (r *recorder) receiveInputs() []sqs.ReceiveMessageInput {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sqs.ReceiveMessageInput(nil), r.receives...)
}

func (r *recorder) deletedIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.deleted...)
}

func (r *recorder) visibilityChanges() []sqs.ChangeMessageVisibilityBatchInput {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sqs.ChangeMessageVisibilityBatchInput(nil), r.changes...)
}

// handler records the batches it is invoked with; fn, if set, decides each
// invocation's outcome.
type handler struct {
	mu      sync.Mutex
	batches [][]events.SQSMessage
	fn      func(ctx context.Context, batch []events.SQSMessage) queueengine.Result
}

func (h *handler) invoke(ctx context.Context, batch []events.SQSMessage) queueengine.Result {
	h.mu.Lock()
	h.batches = append(h.batches, append([]events.SQSMessage(nil), batch...))
	fn := h.fn
	h.mu.Unlock()
	if fn != nil {
		return fn(ctx, batch)
	}
	return queueengine.Result{}
}

func (h *handler) calls() [][]events.SQSMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]events.SQSMessage(nil), h.batches...)
}

func (h *handler) bodies() []string {
	var out []string
	for _, b := range h.calls() {
		for _, m := range b {
			out = append(out, m.Body)
		}
	}
	return out
}

// running is an engine whose Run is in a goroutine.
type running struct {
	eng  *queueengine.Engine
	errc chan error
}

func start(t *testing.T, c queue.SQSAPI, set queueengine.Settings, cb queueengine.Callbacks) *running {
	t.Helper()
	eng, err := queueengine.New(c, set, cb)
	require.NoError(t, err)
	r := &running{eng: eng, errc: make(chan error, 1)}
	go func() { r.errc <- eng.Run(context.Background()) }()
	t.Cleanup(func() { // after a failed assertion: stop the goroutines
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = eng.Shutdown(ctx)
	})
	return r
}

// stop shuts the engine down and returns Shutdown's and Run's errors.
func (r *running) stop(t *testing.T) (shutdownErr, runErr error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	shutdownErr = r.eng.Shutdown(ctx)
	return shutdownErr, <-r.errc
}

// waitFor polls cond every 10ms (of the bubble's time under synctest) for up
// to d.
func waitFor(t testing.TB, d time.Duration, cond func() bool, what string) {
	t.Helper()
	esmtest.WaitUntil(t, d, what, cond)
}

// logBuffer is a slog handler target safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// hooks counts what the engine reports.
type hooks struct {
	mu          sync.Mutex
	invocations []lambdaesm.Invocation
	deleted     int
	filtered    int
	notDeleted  int
	notDelErr   error
}

func (h *hooks) OnBatchInvoked(inv lambdaesm.Invocation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.invocations = append(h.invocations, inv)
}

func (h *hooks) OnRecordsDeleted(_ lambdaesm.Source, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deleted += n
}

func (h *hooks) OnRecordsFilteredOut(_ lambdaesm.Source, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.filtered += n
}

func (h *hooks) OnRecordsNotDeleted(_ lambdaesm.Source, n int, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.notDeleted += n
	h.notDelErr = err
}

var _ lambdaesm.HookRecordsNotDeleted = (*hooks)(nil)

func (h *hooks) snapshot() (invs []lambdaesm.Invocation, deleted, filtered, notDeleted int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]lambdaesm.Invocation(nil), h.invocations...), h.deleted, h.filtered, h.notDeleted
}

var errBoom = errors.New("boom")
