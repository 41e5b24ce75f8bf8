// Package retry decides, as pure functions, what happens after an invocation:
// retry the same records, bisect, advance past some records, or discard records
// with a condition. It also holds the backoff policy between attempts. There is
// no I/O, no goroutine and no sleeping here: the engines apply the decisions.
package retry
