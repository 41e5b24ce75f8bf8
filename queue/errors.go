package queue

import (
	"fmt"
	"strings"
)

// DeleteError is returned by an SQS mapping's Shutdown when messages were handled (or
// filtered out) but could not be deleted, even after retries: they will be
// delivered again. Each was also logged and reported to a lambdaesm.HookRecordsNotDeleted hook.
type DeleteError struct {
	// Messages is how many messages stayed in the queue.
	Messages int
	// Err is the last reason a deletion failed.
	Err error
}

func (e *DeleteError) Error() string {
	return fmt.Sprintf("queue: %d handled messages could not be deleted and will be delivered again: %v", e.Messages, e.Err)
}

func (e *DeleteError) Unwrap() error { return e.Err }

// HeartbeatError is the cause of the cancellation of a handler's context
// (context.Cause) when the visibility heartbeat could not extend the
// visibility of the batch's messages: they may be delivered again while the
// handler still runs.
type HeartbeatError struct {
	// Err says which messages and why; it is often a [*VisibilityError].
	Err error
}

func (e *HeartbeatError) Error() string {
	return fmt.Sprintf("visibility heartbeat: the messages may be delivered again while being handled: %v", e.Err)
}

func (e *HeartbeatError) Unwrap() error { return e.Err }

// VisibilityError reports messages whose visibility timeout could not be
// changed.
type VisibilityError struct {
	// MessageIDs are the messages whose visibility did not change.
	MessageIDs []string
	// Err joins the causes: the calls' errors and the failed entries'.
	Err error
}

func (e *VisibilityError) Error() string {
	return fmt.Sprintf("changing the visibility of %d messages (%s) failed: %v", len(e.MessageIDs), strings.Join(e.MessageIDs, ", "), e.Err)
}

func (e *VisibilityError) Unwrap() error { return e.Err }
