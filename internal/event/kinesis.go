package event

import (
	"strings"

	"github.com/aws/aws-lambda-go/events"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Kinesis converts a Kinesis record read from shardID of the stream streamARN
// into the record Lambda hands to a function. The payload is not copied.
func Kinesis(r *ktypes.Record, shardID, streamARN, region, invokeIdentityARN string) events.KinesisEventRecord {
	var out events.KinesisEventRecord
	seq := deref(r.SequenceNumber)
	fillKinesis(&out, r, seq, shardID+":"+seq, streamARN, region, invokeIdentityARN)
	return out
}

// KinesisRecords appends to dst the event records of a GetRecords response,
// as [Kinesis] converts each one, and returns the extended slice. It is the
// per-response form for the read path: the records are built in place, the
// strings every record shares (ARN, region, role) are not copied, and the
// eventIDs ("shardId:sequenceNumber") of the whole response are cut from one
// string, one allocation instead of one per record. Payloads are not copied.
func KinesisRecords(dst []events.KinesisEventRecord, recs []ktypes.Record, shardID, streamARN, region, invokeIdentityARN string) []events.KinesisEventRecord {
	if len(recs) == 0 {
		return dst
	}
	n := 0
	for i := range recs {
		n += len(shardID) + 1 + len(deref(recs[i].SequenceNumber))
	}
	var ids strings.Builder
	ids.Grow(n)
	for i := range recs {
		ids.WriteString(shardID)
		ids.WriteByte(':')
		ids.WriteString(deref(recs[i].SequenceNumber))
	}
	all := ids.String()
	base := len(dst)
	if free := cap(dst) - base; free < len(recs) {
		grown := make([]events.KinesisEventRecord, base, base+len(recs))
		copy(grown, dst)
		dst = grown
	}
	dst = dst[:base+len(recs)]
	off := 0
	for i := range recs {
		r := &recs[i]
		seq := deref(r.SequenceNumber)
		end := off + len(shardID) + 1 + len(seq)
		fillKinesis(&dst[base+i], r, seq, all[off:end], streamARN, region, invokeIdentityARN)
		off = end
	}
	return dst
}

// fillKinesis sets every field of *out, a zero or reused record.
func fillKinesis(out *events.KinesisEventRecord, r *ktypes.Record, seq, eventID, streamARN, region, invokeIdentityARN string) {
	*out = events.KinesisEventRecord{
		AwsRegion:         region,
		EventID:           eventID,
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
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
