// Package awstest holds the helpers for tests that run the real aws-sdk-go-v2
// against the local emulators started by `make test` (scripts/emulators.sh):
// SDK clients configured from the environment ([Config], [Kinesis],
// [DynamoDB], [DynamoDBStreams], [SQS], [SNS]), a guard that skips
// integration tests when the emulators are not running ([Integration]),
// unique resource names ([UniqueName]) and resources that clean up after
// themselves ([NewStream], [NewStreamTable], [NewQueue], [NewTopic]), and
// fault injection on the wire ([Faults]) for what the emulators cannot
// produce: throttling, expired iterators, 5xx answers, connection resets and
// failed entries of SQS batch calls.
//
// It is a normal package (not a _test file) so that the tests of every
// package can import it; it is internal so that users cannot. It never talks
// to real AWS: without ESM_INTEGRATION=1 every client constructor skips the
// test, and with it every endpoint must come from an AWS_ENDPOINT_URL_*
// variable.
package awstest
