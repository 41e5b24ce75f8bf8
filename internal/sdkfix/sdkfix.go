// Package sdkfix holds workarounds for behaviour of aws-sdk-go-v2 that the
// library and its test kit must both avoid.
package sdkfix

import (
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
)

// OwnKinesisProtocol gives one SubscribeToShard call its own copy of the
// SDK's protocol: the protocol keeps the event-stream decoder, and streams
// of one client decoding concurrently through a shared one race. Pass it as
// the call's option.
func OwnKinesisProtocol(o *kinesis.Options) {
	if _, ok := o.Protocol.(*awsjson.Protocol); ok {
		o.Protocol = awsjson.New11(schemas.Kinesis_20131202)
	}
}
