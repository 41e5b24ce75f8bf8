// Package core holds the vocabulary shared by the engines (shard, queue) and
// the public esm package: hooks and errors. Package esm re-exports what users
// need; nothing else should import this package from outside the module.
package core
