package queueengine

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lambdaesm/lambdaesm/internal/core"
)

// A partial batch response that names a message fails every copy of it in
// the batch (a message received twice has two receipt handles): deleting
// either copy would delete the message the function said failed.
func TestResolveFailsEveryCopyOfANamedMessage(t *testing.T) {
	ms := []meta{{id: "a", handle: "h1"}, {id: "b", handle: "h2"}, {id: "a", handle: "h3"}}
	st := make([]state, len(ms))
	n := resolve(core.Outcome{Failed: []int{0}}, st, ms, false)
	require.Equal(t, 2, n)
	require.Equal(t, []state{failed, succeeded, failed}, st)
}
