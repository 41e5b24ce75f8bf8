// Package event converts the records the AWS SDK returns into the
// aws-lambda-go event records a Lambda function receives. It is the one place
// per source where that conversion lives, and it reproduces the shapes AWS
// sends (eventID "shardId-…:sequence", Kinesis eventVersion "1.0" and
// kinesisSchemaVersion "1.0", no encryptionType for an unencrypted Kinesis
// stream, DynamoDB eventVersion "1.1", SQS system attributes and lower-cased
// messageAttributes keys).
//
// Differences from AWS: aws-lambda-go's SQSMessage has no way to send
// "md5OfMessageAttributes": null, so a message without attributes carries "";
// invokeIdentityArn is empty unless the mapping sets a role ARN.
package event
