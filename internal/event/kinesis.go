package event

import (
	"github.com/aws/aws-lambda-go/events"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Kinesis converts a Kinesis record read from shardID of the stream streamARN
// into the record Lambda hands to a function. The payload is not copied.
func Kinesis(r *ktypes.Record, shardID, streamARN, region, invokeIdentityARN string) events.KinesisEventRecord {
	seq := deref(r.SequenceNumber)
	out := events.KinesisEventRecord{
		AwsRegion:         region,
		EventID:           shardID + ":" + seq,
		EventName:         "aws:kinesis:record",
		EventSource:       "aws:kinesis",
		EventSourceArn:    streamARN,
		EventVersion:      "1.0",
		InvokeIdentityArn: invokeIdentityARN,
		Kinesis: events.KinesisRecord{
			Data:                 r.Data,
			PartitionKey:         deref(r.PartitionKey),
			SequenceNumber:       seq,
			KinesisSchemaVersion: "1.0",
		},
	}
	if r.ApproximateArrivalTimestamp != nil {
		out.Kinesis.ApproximateArrivalTimestamp = events.SecondsEpochTime{Time: *r.ApproximateArrivalTimestamp}
	}
	// Real Kinesis returns no EncryptionType for an unencrypted stream and
	// Lambda's event then has no encryptionType key; emulators say NONE.
	if r.EncryptionType != "" && r.EncryptionType != ktypes.EncryptionTypeNone {
		out.Kinesis.EncryptionType = string(r.EncryptionType)
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
