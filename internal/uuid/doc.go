// Package uuid makes the random identifiers AWS services use for request
// and event IDs.
package uuid
