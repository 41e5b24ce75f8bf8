package core

import (
	"errors"
)

// InvalidPartialBatchResponse reports whether err says that the function's
// response was not a valid partial batch response (invoke.Function returns
// such an error for a response that does not decode): under
// ReportBatchItemFailures the whole batch then fails without a function
// error (functionError null), and without it the response is ignored, as
// Lambda does.
func InvalidPartialBatchResponse(err error) bool {
	var invalid interface{ InvalidPartialBatchResponse() bool }
	return errors.As(err, &invalid) && invalid.InvalidPartialBatchResponse()
}
