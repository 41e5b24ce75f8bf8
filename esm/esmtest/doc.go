// Package esmtest is the test kit: in-memory Kinesis, DynamoDB Streams and SQS
// fakes that satisfy the library's client interfaces, with fault injection and
// a controllable clock, so handlers can be unit-tested with Lambda's real
// batching and retry behaviour, without AWS or an emulator.
package esmtest
