// Package rietest runs a Lambda function under AWS's Runtime Interface
// Emulator (aws-lambda-rie), for the tests that call a real function: a Go
// program built with lambda.Start from testdata/fn (see its doc), started on
// loopback ports, with a Lambda SDK client pointed at it.
//
// The emulator is installed by `scripts/emulators.sh install` into
// .emulators/bin; AWS_LAMBDA_RIE names another binary. Tests using it are
// integration tests: [Start] skips unless ESM_INTEGRATION=1, and skips with a
// message naming the missing binary when it is absent.
//
// The emulator differs from Lambda in one way that matters here: it drops
// the X-Amz-Function-Error header, so an Invoke response never has
// FunctionError set; a function error shows only as the error object
// ({"errorMessage":…,"errorType":…}) in the payload.
package rietest
