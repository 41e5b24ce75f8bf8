// Package examples holds runnable programs that show the library at work.
// Each subdirectory is a main package: go run ./examples/quickstart.
package examples
