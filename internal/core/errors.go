package core

import "errors"

// ErrClosed is returned by Run after Shutdown, and by Run when called twice.
var ErrClosed = errors.New("esm: mapping closed")
