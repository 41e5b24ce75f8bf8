package core

import (
	"errors"
	"fmt"
	"time"
)

// ErrClosed is returned by Run after Shutdown, and by Run when called twice.
var ErrClosed = errors.New("esm: closed")

// TimeoutError is the function error of an invocation that ran past the
// function timeout, with Lambda's message.
type TimeoutError struct{ Timeout time.Duration }

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("Task timed out after %.2f seconds", e.Timeout.Seconds())
}
