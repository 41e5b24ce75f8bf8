// Package retry decides, as pure functions, what happens after an invocation:
// retry the same records, bisect, advance past some records, or discard records
// with a condition. It also holds the backoff policy between attempts. There is
// no I/O, no goroutine and no sleeping here: the engines apply the decisions.
//
// # Semantics
//
// [Policy.Decide] applies Lambda's stream error handling to one [Batch] of
// records and its [Outcome]:
//
//   - Success: every record of the run is done.
//   - A function error (or, with ReportBatchItemFailures, a partial batch
//     response naming an empty or unknown identifier) fails the whole run.
//     With BisectBatchOnFunctionError a run of two or more records is split
//     into two halves whose attempt counts start at zero ("splitting a batch
//     does not count towards the retry quota"); otherwise the run is retried
//     after [Backoff] until it has failed MaximumRetryAttempts + 1 times, and
//     is then discarded with [lambdaesm.RetryAttemptsExhausted].
//   - A valid partial batch response (ReportBatchItemFailures) completes the
//     records before the lowest one it names; the rest becomes a new run
//     whose attempts start at zero, as AWS's recordings show (BatchSize 3,
//     MaximumRetryAttempts 3, the 6th record always failing: delivered once
//     in its batch, then 4 times alone, approximateInvokeCount 4,
//     functionError null). It is retried after [Backoff], or at once with
//     BisectBatchOnFunctionError (Lambda bisects at the returned sequence
//     number). A response naming the first record is a failure of the whole
//     run. Without ReportBatchItemFailures the response is ignored.
//
// [Policy.Expired] tells how many leading records are older than
// MaximumRecordAge; the engine discards them with [lambdaesm.RecordAgeExceeded] before
// an attempt, with approximateInvokeCount the invocations the run had (at
// least 1, as AWS counts it) and [Batch.FunctionError] telling how the last
// one ended. [FailedPositions] applies AWS's rules for item identifiers.
//
// # Testing
//
// Everything here is a pure function of its arguments (Backoff.Delay takes
// its random number as an argument), so it is tested with tables, without
// fakes or clocks. Package shard fuzzes the engine's use of it.
package retry
