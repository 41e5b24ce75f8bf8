package main

import "testing"

// TestQuickstart keeps the README's demo working: it runs on the in-memory
// fake and fails if a record is lost or a key's records come out of order.
func TestQuickstart(t *testing.T) {
	if err := run(2000, 3, 50, "", false, false); err != nil {
		t.Fatal(err)
	}
}
