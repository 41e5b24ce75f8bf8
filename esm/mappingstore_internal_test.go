package esm

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"
)

// A cancelled transaction's reasons come from CancellationReasons, or from
// the message when the service sent only that.
func TestCancellationReasons(t *testing.T) {
	require.Equal(t, []string{"None", "ConditionalCheckFailed", "None"}, cancellationReasons(&types.TransactionCanceledException{
		CancellationReasons: []types.CancellationReason{{Code: aws.String("None")}, {Code: aws.String("ConditionalCheckFailed")}, {Code: aws.String("None")}},
	}, 3))
	require.Equal(t, []string{"ConditionalCheckFailed", "TransactionConflict", "None"}, cancellationReasons(&types.TransactionCanceledException{
		Message: aws.String("Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, TransactionConflict, None]"),
	}, 3))
	require.Equal(t, []string{"None", "None"}, cancellationReasons(&types.TransactionCanceledException{Message: aws.String("cancelled")}, 2))
}
