// Package seqnum orders stream sequence numbers.
package seqnum

import "strings"

// Compare compares two stream sequence numbers (decimal strings of any
// length, possibly zero-padded) as numbers: -1, 0 or +1.
func Compare(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}
