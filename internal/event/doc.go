// Package event converts the records the AWS SDK returns into the
// aws-lambda-go event records a Lambda function receives. It is the one place
// per source where that conversion lives, and it reproduces the shapes AWS
// sends (eventID "shardId-…:sequence", Kinesis eventVersion "1.0" and
// kinesisSchemaVersion "1.0", no encryptionType for an unencrypted Kinesis
// stream, DynamoDB eventVersion "1.1", SQS system attributes and lower-cased
// messageAttributes keys).
//
// [Marshal] writes an event as JSON the way Lambda sends it to a function;
// invoke.Function sends events so. For SQS it differs from json.Marshal: a
// message without message attributes has "md5OfMessageAttributes": null, as
// in AWS, and the keys are in AWS's order.
//
// Differences from AWS: aws-lambda-go's SQSMessage holds
// md5OfMessageAttributes in a string, so a Go handler sees "" for a message
// without attributes (the JSON of [Marshal] has null); invokeIdentityArn is
// empty unless the mapping sets a role ARN.
package event
