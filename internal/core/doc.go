// Package core is the plumbing the engines (shard, queue), the async invoker
// and package esm share: the Run/Shutdown lifecycle, the hook dispatcher,
// health tracking and error classification. The vocabulary users see lives
// in package lambdaesm; nothing outside the module may import this package.
package core
