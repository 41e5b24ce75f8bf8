package esm

import "github.com/lambdaesm/lambdaesm/internal/core"

// Hooks receives what a mapping does, for metrics. Implementations must be
// safe for concurrent use and fast. Embed [NopHooks] to implement a subset.
type Hooks = core.Hooks

// NopHooks implements [Hooks] doing nothing.
type NopHooks = core.NopHooks

// HookSource names the event source and shard a hook call is about.
type HookSource = core.Source

// Invocation describes one finished call of a handler, for [Hooks].
type Invocation = core.Invocation

// ErrClosed is returned by Run after Shutdown, or when Run is called twice.
var ErrClosed = core.ErrClosed

// TimeoutError is the function error of an invocation that ran past
// FunctionTimeout ("Task timed out after N seconds").
type TimeoutError = core.TimeoutError
