package queueengine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/lambdaesm/lambdaesm/queue"
)

// deleteAttempts is how many times a message's deletion is tried before it
// is reported as not deleted.
const deleteAttempts = 3

// limitMargin keeps visibility changes clear of SQS's 12-hour limit, which
// the service counts from a receive slightly earlier than the engine sees.
const limitMargin = 10 * time.Second

// entryIDs are the Ids of the entries of a batch call: their index.
var entryIDs = [maxReceive]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

func entryIndex(id *string) int {
	if id == nil {
		return -1
	}
	i, err := strconv.Atoi(*id)
	if err != nil || i < 0 || i >= maxReceive {
		return -1
	}
	return i
}

// entryError describes a failed entry of a batch call.
func entryError(f types.BatchResultErrorEntry) error {
	code, msg := "", ""
	if f.Code != nil {
		code = *f.Code
	}
	if f.Message != nil {
		msg = *f.Message
	}
	return fmt.Errorf("%s: %s", code, msg)
}

// deleteMessages deletes messages with DeleteMessageBatch, ten at a time.
// Failed entries and failed calls are retried; what stays undeleted is
// reported (log, lambdaesm.HookRecordsNotDeleted, and the error Shutdown returns).
func (e *Engine) deleteMessages(ctx context.Context, ms []meta) {
	deleted := 0
	for lo := 0; lo < len(ms); lo += maxReceive {
		deleted += e.deleteChunk(ctx, ms[lo:min(lo+maxReceive, len(ms))])
	}
	if deleted > 0 {
		e.hook.RecordsDeleted(e.q.src, deleted)
	}
}

// deleteChunk deletes up to ten messages and returns how many it deleted. An
// entry keeps its Id (its index in the chunk) through the retries.
func (e *Engine) deleteChunk(ctx context.Context, ms []meta) int {
	left := make([]int, len(ms))
	for i := range ms {
		left[i] = i
	}
	var entries [maxReceive]types.DeleteMessageBatchRequestEntry
	in := sqs.DeleteMessageBatchInput{QueueUrl: &e.q.url}
	deleted := 0
	var lastErr error
	for attempt := 1; ; attempt++ {
		for k, i := range left {
			entries[k] = types.DeleteMessageBatchRequestEntry{Id: &entryIDs[i], ReceiptHandle: &ms[i].handle}
		}
		in.Entries = entries[:len(left)]
		out, err := e.c.DeleteMessageBatch(ctx, &in)
		if err != nil {
			lastErr = err
		} else {
			deleted += len(left) - len(out.Failed)
			var again []int
			for _, f := range out.Failed {
				if i := entryIndex(f.Id); i >= 0 && i < len(ms) {
					again = append(again, i)
					lastErr = entryError(f)
				}
			}
			left = again
		}
		if len(left) == 0 {
			return deleted
		}
		if attempt == deleteAttempts || !sleep(ctx, e.backoff(attempt)) {
			break
		}
	}
	ids := make([]string, len(left))
	for k, i := range left {
		ids[k] = ms[i].id
	}
	e.notDeleted(ids, lastErr)
	return deleted
}

// notDeleted reports messages that were handled (or filtered out) but stay
// in the queue.
func (e *Engine) notDeleted(ids []string, err error) {
	e.log.Error("messages could not be deleted: they will be delivered again", "messages", len(ids), "messageIds", ids, "err", err)
	e.hook.RecordsNotDeleted(e.q.src, len(ids), err)
	e.bgMu.Lock()
	e.undeleted += len(ids)
	e.deleteErr = err
	e.bgMu.Unlock()
}

// deferred returns the error that reports every message left undeleted, nil
// if there is none.
func (e *Engine) deferred() error {
	e.bgMu.Lock()
	defer e.bgMu.Unlock()
	if e.undeleted == 0 {
		return nil
	}
	return &queue.DeleteError{Messages: e.undeleted, Err: e.deleteErr}
}

// sleep waits d unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// visEntry is one visibility change: the message's remaining visibility
// becomes vt seconds.
type visEntry struct {
	m  *meta
	vt int32
}

// changeVisibility calls ChangeMessageVisibilityBatch ten entries at a time.
// The error names every message whose visibility did not change.
func (e *Engine) changeVisibility(ctx context.Context, ents []visEntry) error {
	var entries [maxReceive]types.ChangeMessageVisibilityBatchRequestEntry
	var errs []error
	var ids []string
	for lo := 0; lo < len(ents); lo += maxReceive {
		chunk := ents[lo:min(lo+maxReceive, len(ents))]
		for i, v := range chunk {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: &entryIDs[i], ReceiptHandle: &v.m.handle, VisibilityTimeout: v.vt}
		}
		out, err := e.c.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &e.q.url, Entries: entries[:len(chunk)]})
		if err != nil {
			for _, v := range chunk {
				ids = append(ids, v.m.id)
			}
			errs = append(errs, err)
			continue
		}
		for _, f := range out.Failed {
			if i := entryIndex(f.Id); i >= 0 && i < len(chunk) {
				ids = append(ids, chunk[i].m.id)
				errs = append(errs, fmt.Errorf("message %s: %w", chunk[i].m.id, entryError(f)))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &queue.VisibilityError{MessageIDs: ids, Err: errors.Join(errs...)}
}
