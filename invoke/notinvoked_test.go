package invoke

import (
	"errors"
	"net/http"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/require"
)

func TestNotInvokedClassification(t *testing.T) {
	resp := func(code int) error {
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("x")}
	}
	require.True(t, notInvoked(resp(429)))
	require.True(t, notInvoked(resp(503)))
	require.True(t, notInvoked(&smithy.GenericAPIError{Code: "TooManyRequestsException"}))
	require.False(t, notInvoked(resp(400)))
	require.False(t, notInvoked(&smithy.GenericAPIError{Code: "ResourceNotFoundException"}))
	require.False(t, notInvoked(errors.New("dial tcp: refused")))
}
