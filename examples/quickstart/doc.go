// Command quickstart runs a Kinesis mapping the way Lambda would, in this
// process: a stream with a few shards and many partition keys,
// ParallelizationFactor 10, and a shard split while records flow. At the end
// it checks that every record was handled and that each key's records arrived
// in order, across the split.
//
// By default the stream is the in-memory fake of esm/esmtest: no AWS account,
// no emulator. With -endpoint (or AWS_ENDPOINT_URL_KINESIS, or -aws for real
// AWS credentials from the environment) the same program runs against an
// emulator or AWS.
package main
