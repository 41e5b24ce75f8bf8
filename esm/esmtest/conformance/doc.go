// Package conformance is one set of behavioural tests per AWS service that
// any implementation of the service's client interface can be checked
// against: the in-memory fakes of package esmtest, the local emulators
// (kinesis-local, DynamoDB Local, fauxqs), real AWS, or a user's own fake.
//
// Each suite ([RunKinesis], [RunKinesisFanOut], [RunDynamoDBStreams],
// [RunSQS]) is written once against a harness: an SDK-shaped client (a
// method set that both the fake and the SDK client, *kinesis.Client,
// *dynamodbstreams.Client or *sqs.Client, satisfy) plus the few operations
// that differ between targets, such as creating a stream and waiting until
// it is ACTIVE, or closing a DynamoDB stream's shards (the fake's
// DisableStream; DynamoDB's UpdateTable StreamEnabled=false). Every harness is a [Target]: it names itself and
// declares the [Capability] values it lacks, each with the reason. A test
// that needs a missing capability is skipped with
//
//	capability <capability> not provided by <target>: <reason>
//
// and each suite first logs one line listing what the target lacks, so the
// verbose output of a run records every gap of every target, instead of
// hiding it.
//
// # Timing
//
// The suites wait with package time: a test that needs a visibility timeout
// or a long poll to pass waits for it, with timeouts of one or two seconds,
// and the tests of a suite run in parallel (t.Parallel), so against an
// emulator or AWS a whole suite takes a few seconds. A harness whose target
// reads time only from package time can implement [Synctester]: each test
// then runs in its own testing/synctest bubble and the waits take no real
// time. Harness methods must be safe for concurrent use, and each call that
// creates a resource must create a new one, named after the test (several
// targets may share one emulator).
package conformance
