package destination

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lambdaesm/lambdaesm/internal/uuid"
)

// S3Sender writes stream failure records to an S3 bucket, one object per
// record, as Lambda does for an S3 on-failure destination: the record with
// the invocation event added as "payload", under AWS's key scheme
// (see [Message]).
type S3Sender struct {
	client S3API
	arn    string
	bucket string
}

// NewS3 returns a sender to the bucket with this ARN (arn:aws:s3:::bucket).
// It does no I/O.
func NewS3(client S3API, bucketARN string) (*S3Sender, error) {
	a, err := parseARN(bucketARN)
	if err != nil {
		return nil, err
	}
	if a.Service != "s3" || a.Resource == "" || strings.Contains(a.Resource, "/") {
		return nil, fmt.Errorf("destination %s: not an S3 bucket ARN (want arn:<partition>:s3:::<bucket>)", bucketARN)
	}
	return &S3Sender{client: client, arn: bucketARN, bucket: a.Resource}, nil
}

// ARN returns the bucket's ARN.
func (s *S3Sender) ARN() string { return s.arn }

// WantsPayload reports true: the object holds the invocation event
// ([PayloadReceiver]).
func (s *S3Sender) WantsPayload() bool { return true }

// Send writes one object. m needs MappingID, ShardID and Time for the key.
func (s *S3Sender) Send(ctx context.Context, m Message) error {
	if m.MappingID == "" || m.ShardID == "" || m.Time.IsZero() {
		return &SendError{Destination: s.arn, Err: errors.New("an S3 object key needs the message's MappingID, ShardID and Time")}
	}
	body, err := s3Body(m.Record, m.Payload)
	if err != nil {
		return &SendError{Destination: s.arn, Err: err}
	}
	key := objectKey(m.MappingID, m.ShardID, m.Time, uuid.New())
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(body)})
	if err != nil {
		return &SendError{Destination: s.arn, Err: err}
	}
	return nil
}

// objectKey is Lambda's key for a failure record:
// aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<random UUID>,
// in UTC.
func objectKey(mappingID, shardID string, t time.Time, id string) string {
	t = t.UTC()
	return "aws/lambda/" + mappingID + "/" + shardID + "/" + t.Format("2006/01/02") + "/" +
		t.Format("2006-01-02T15.04.05") + "-" + id
}

// s3Body is the object Lambda writes: the record's fields with their keys
// sorted (at every level), and the payload as a JSON string holding the
// event, as recorded from AWS (see the package documentation).
func s3Body(record, payload json.RawMessage) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(record))
	dec.UseNumber() // keep numbers exactly as written
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("record is not a JSON object: %w", err)
	}
	if len(payload) > 0 {
		obj["payload"] = string(payload)
	}
	return marshal(obj) // maps encode with sorted keys
}
