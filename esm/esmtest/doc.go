// Package esmtest is the test kit: in-memory Kinesis, DynamoDB Streams, SQS
// and SNS fakes that satisfy the library's client interfaces, with fault
// injection ([Faults]) and a controllable clock ([ManualClock], or
// testing/synctest), so handlers can be unit-tested with Lambda's real
// batching, retry and bisect behaviour in milliseconds, without AWS or an
// emulator — the way net/http/httptest tests HTTP handlers.
//
// A test creates a fake ([NewKinesis], [NewDynamoDBStreams], [NewSQS],
// [NewSNS]), fills it with the Must… and Put/Send helpers, runs a mapping
// over it with [Start], waits with [Progress.WaitFinished] (pass the
// [Progress] to the mapping with esm.WithHooks; messages that SQS moves to a
// dead-letter queue count once [Progress.CountDeadLetters] names the queue)
// and inspects what the handler saw and what reached the failure destination
// (destination.Memory, or a [Capture] standing in for the SQS and SNS
// clients, which keeps message attributes too).
//
// The Kinesis fake also does enhanced fan-out: [Kinesis.MustRegisterStreamConsumer]
// gives a consumer ARN to map, and SubscribeToShard streams are decoded by
// the SDK itself, so a mapping of the consumer reads them as it reads
// Kinesis's, 5-minute end and resharding included.
//
// The fakes return what the AWS SDK would, typed errors included; the
// conformance suite in esm/esmtest/conformance runs the same behavioural tests
// against them and against the local emulators, and lists where each
// emulator falls short.
package esmtest
