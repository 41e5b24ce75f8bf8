package uuid

import (
	"crypto/rand"
	"crypto/sha1"
	"fmt"
)

// New returns a random (version 4) UUID in its canonical form,
// xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx.
func New() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails
	return format(u, 0x40)
}

// FromName returns a UUID derived from name (version 5 style, SHA-1): the
// same name always gives the same UUID.
func FromName(name string) string {
	h := sha1.Sum([]byte(name))
	return format([16]byte(h[:16]), 0x50)
}

func format(u [16]byte, version byte) string {
	u[6], u[8] = u[6]&0x0f|version, u[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}
