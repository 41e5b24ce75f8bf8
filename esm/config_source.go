package esm

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// SourceKind is the kind of event source a [Config] reads.
type SourceKind int

// The event sources this library maps.
const (
	// Kinesis is an Amazon Kinesis data stream.
	Kinesis SourceKind = iota + 1
	// DynamoDBStreams is an Amazon DynamoDB stream.
	DynamoDBStreams
	// SQS is an Amazon SQS queue, standard or FIFO.
	SQS
)

// String returns "Kinesis", "DynamoDB Streams" or "SQS".
func (k SourceKind) String() string {
	switch k {
	case Kinesis:
		return "Kinesis"
	case DynamoDBStreams:
		return "DynamoDB Streams"
	case SQS:
		return "SQS"
	}
	return fmt.Sprintf("SourceKind(%d)", int(k))
}

// IsStream reports whether k is Kinesis or DynamoDB Streams.
func (k SourceKind) IsStream() bool { return k == Kinesis || k == DynamoDBStreams }

// EventSource is the event source of a [Config], parsed from its
// EventSourceArn (or QueueURL). The engines take the region and account from
// here.
type EventSource struct {
	// Kind is the kind of source.
	Kind SourceKind
	// ARN is the EventSourceArn; empty when an SQS queue is named by URL
	// only.
	ARN string
	// QueueURL is the Config's QueueURL (SQS only; may be empty).
	QueueURL string
	// Partition is the ARN partition (aws, aws-cn, aws-us-gov, …); empty when
	// named by URL only.
	Partition string
	// Region is the source's region, as written in the ARN ("ddblocal" for
	// DynamoDB Local). For a queue named by URL only, it is read from a host
	// of the form sqs.<region>.…, else empty.
	Region string
	// AccountID is the owning account, from the ARN or the URL path.
	AccountID string
	// Name is the stream name (Kinesis), the table name (DynamoDB Streams) or
	// the queue name (SQS).
	Name string
	// StreamARN is the ARN of the stream (Kinesis, DynamoDB Streams): ARN
	// itself, or the consumer's stream when ARN names a Kinesis stream
	// consumer.
	StreamARN string
	// Consumer is the name of the Kinesis stream consumer when ARN names
	// one (enhanced fan-out: the mapping reads with SubscribeToShard).
	Consumer string
	// StreamLabel is the DynamoDB stream label (the last part of its ARN).
	StreamLabel string
	// FIFO reports an SQS FIFO queue (its name ends in ".fifo").
	FIFO bool
}

// partitions lists the ARN partitions accepted.
var partitions = map[string]bool{
	"aws": true, "aws-cn": true, "aws-us-gov": true,
	"aws-iso": true, "aws-iso-b": true, "aws-iso-e": true, "aws-iso-f": true, "aws-eusc": true,
}

// ParseEventSourceARN parses the ARN of a Kinesis data stream or stream
// consumer, a DynamoDB stream or an SQS queue. The region is not checked against a list of real
// regions (DynamoDB Local uses "ddblocal"); the account must be 12 digits.
// The error says what is wrong with s.
func ParseEventSourceARN(s string) (EventSource, error) {
	src, err := parseEventSourceARN(s)
	if err != nil {
		return EventSource{}, fmt.Errorf("esm: event source ARN %q: %w", s, err)
	}
	return src, nil
}

func parseEventSourceARN(s string) (EventSource, error) {
	// The service first: an S3 ARN has no region, and "the region is empty"
	// would hide that such a source is not supported at all.
	if a, err := arn.Parse(s); err == nil && !sourceServices[a.Service] {
		return EventSource{}, unsupportedService(a.Service)
	}
	a, err := parseARN(s)
	if err != nil {
		return EventSource{}, err
	}
	src := EventSource{ARN: s, Partition: a.Partition, Region: a.Region, AccountID: a.AccountID}
	switch a.Service {
	case "kinesis":
		src.Kind = Kinesis
		name, ok := strings.CutPrefix(a.Resource, "stream/")
		if !ok {
			return EventSource{}, errors.New("a Kinesis ARN must name a stream: arn:aws:kinesis:<region>:<account>:stream/<name>")
		}
		if stream, consumer, isConsumer := strings.Cut(name, "/consumer/"); isConsumer {
			cname, created, ok := strings.Cut(consumer, ":")
			if !ok || created == "" || strings.Trim(created, "0123456789") != "" {
				return EventSource{}, errors.New("a Kinesis stream consumer ARN ends in /consumer/<name>:<creation timestamp>, as RegisterStreamConsumer returns it: arn:aws:kinesis:<region>:<account>:stream/<stream>/consumer/<name>:<timestamp>")
			}
			if !validName(cname, 1, 128, ".") {
				return EventSource{}, errors.New("the Kinesis stream consumer name must be 1 to 128 letters, digits, '_', '-' or '.'")
			}
			name, src.Consumer = stream, cname
		}
		if !validName(name, 1, 128, ".") {
			return EventSource{}, errors.New("the Kinesis stream name must be 1 to 128 letters, digits, '_', '-' or '.'")
		}
		src.Name = name
		src.StreamARN = arn.ARN{Partition: a.Partition, Service: a.Service, Region: a.Region, AccountID: a.AccountID, Resource: "stream/" + name}.String()
	case "dynamodb":
		src.Kind = DynamoDBStreams
		parts := strings.Split(a.Resource, "/")
		if len(parts) == 2 && parts[0] == "table" {
			return EventSource{}, errors.New("this is a DynamoDB table ARN; give the table's stream ARN: arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>")
		}
		if len(parts) != 4 || parts[0] != "table" || parts[2] != "stream" || parts[3] == "" {
			return EventSource{}, errors.New("a DynamoDB ARN must name a stream: arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>")
		}
		if !validName(parts[1], 3, 255, ".") {
			return EventSource{}, errors.New("the DynamoDB table name must be 3 to 255 letters, digits, '_', '-' or '.'")
		}
		src.Name, src.StreamLabel, src.StreamARN = parts[1], parts[3], s
	case "sqs":
		src.Kind = SQS
		if err := checkQueueName(a.Resource); err != nil {
			return EventSource{}, err
		}
		src.Name, src.FIFO = a.Resource, strings.HasSuffix(a.Resource, ".fifo")
	default:
		return EventSource{}, unsupportedService(a.Service)
	}
	return src, nil
}

// sourceServices are the services whose ARNs name event sources here.
var sourceServices = map[string]bool{"kinesis": true, "dynamodb": true, "sqs": true}

func unsupportedService(service string) error {
	return fmt.Errorf("unsupported event source: service %q (want the ARN of a Kinesis stream, a DynamoDB stream or an SQS queue)", service)
}

// parseARN splits an ARN and checks the parts every source ARN has:
// partition, region and a 12-digit account.
func parseARN(s string) (arn.ARN, error) {
	a, err := arn.Parse(s)
	if err != nil {
		return arn.ARN{}, errors.New("not an ARN: want arn:<partition>:<service>:<region>:<account>:<resource>")
	}
	if !partitions[a.Partition] {
		return arn.ARN{}, fmt.Errorf("unknown partition %q: want aws, aws-cn, aws-us-gov, …", a.Partition)
	}
	if !validRegion(a.Region) {
		return arn.ARN{}, fmt.Errorf("region %q: want lower-case letters, digits and '-'", a.Region)
	}
	if !validAccount(a.AccountID) {
		return arn.ARN{}, fmt.Errorf("account %q: want 12 digits", a.AccountID)
	}
	return a, nil
}

func validRegion(s string) bool {
	return s != "" && len(s) <= 64 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}

func validAccount(s string) bool {
	return len(s) == 12 && strings.Trim(s, "0123456789") == ""
}

// validName reports whether s has min to max characters, each a letter, a
// digit, '_', '-' or one of extra.
func validName(s string, min, max int, extra string) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '_' || r == '-' || strings.ContainsRune(extra, r)
		if !ok {
			return false
		}
	}
	return true
}

// checkQueueName applies SQS's rule: up to 80 letters, digits, '-' and '_',
// a FIFO queue's name ending in ".fifo" (counted in the 80).
func checkQueueName(name string) error {
	base := strings.TrimSuffix(name, ".fifo")
	if len(name) > 80 || !validName(base, 1, 80, "") {
		return fmt.Errorf("queue name %q: want 1 to 80 letters, digits, '-' or '_' (a FIFO queue's ending in .fifo)", name)
	}
	return nil
}

// parseQueueURL reads the account, queue name and, where the host says it,
// the region of an SQS queue URL: <scheme>://<host>/<account>/<queue>.
func parseQueueURL(s string) (EventSource, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return EventSource{}, errors.New("want an http(s) queue URL: https://sqs.<region>.amazonaws.com/<account>/<queue>")
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 {
		return EventSource{}, errors.New("the URL path must be /<account>/<queue>")
	}
	if !validAccount(parts[0]) {
		return EventSource{}, fmt.Errorf("account %q in the URL path: want 12 digits", parts[0])
	}
	if err := checkQueueName(parts[1]); err != nil {
		return EventSource{}, err
	}
	src := EventSource{Kind: SQS, QueueURL: s, AccountID: parts[0], Name: parts[1], FIFO: strings.HasSuffix(parts[1], ".fifo")}
	if labels := strings.Split(u.Hostname(), "."); len(labels) > 2 && labels[0] == "sqs" && validRegion(labels[1]) {
		src.Region = labels[1]
	}
	return src, nil
}

// EventSource parses the Config's EventSourceArn and QueueURL. Either may
// name an SQS queue; when both are set they must name the same queue. The
// error is a [*ConfigError] naming the field at fault.
func (c Config) EventSource() (EventSource, error) {
	src, vs := c.eventSource()
	if len(vs) > 0 {
		return EventSource{}, &ConfigError{Violations: vs}
	}
	return src, nil
}

// eventSource parses EventSourceArn and QueueURL. It returns what it could
// learn (Kind is 0 when neither names a usable source) and the violations.
func (c Config) eventSource() (EventSource, []Violation) {
	if c.EventSourceArn == "" && c.QueueURL == "" {
		return EventSource{}, []Violation{{"EventSourceArn", unset, ruleNoSource}}
	}
	var vs []Violation
	var byARN, byURL EventSource
	var arnErr, urlErr error
	if c.EventSourceArn != "" {
		if byARN, arnErr = parseEventSourceARN(c.EventSourceArn); arnErr != nil {
			vs = append(vs, Violation{"EventSourceArn", quote(c.EventSourceArn), arnErr.Error()})
		}
	}
	if c.QueueURL != "" {
		if byURL, urlErr = parseQueueURL(c.QueueURL); urlErr != nil {
			vs = append(vs, Violation{"QueueURL", quote(c.QueueURL), urlErr.Error()})
		}
	}
	switch {
	case c.EventSourceArn == "" || arnErr != nil:
		return byURL, vs // Kind is SQS if the URL parsed, else 0
	case c.QueueURL == "":
		return byARN, vs
	case byARN.Kind != SQS:
		return byARN, append(vs, Violation{"QueueURL", quote(c.QueueURL), "applies to SQS only; EventSourceArn names a " + byARN.Kind.String() + " source"})
	case urlErr == nil && (byURL.Name != byARN.Name || byURL.AccountID != byARN.AccountID):
		vs = append(vs, Violation{"QueueURL", quote(c.QueueURL), "names another queue than EventSourceArn"})
	}
	byARN.QueueURL = c.QueueURL
	return byARN, vs
}

// Source returns the kind of source the Config reads, from its
// EventSourceArn or QueueURL.
func (c Config) Source() (SourceKind, error) {
	src, err := c.EventSource()
	return src.Kind, err
}

// FunctionARN returns the ARN of a Lambda function called name in the
// source's partition, region and account:
// arn:<partition>:lambda:<region>:<account>:function:<name>. A name that is
// already a function ARN is returned as it is; a partial ARN
// (<account>:function:<name>) is completed. The partition defaults to aws;
// the region is empty when the source has none (a queue named by a URL
// without region).
func (s EventSource) FunctionARN(name string) string {
	if strings.HasPrefix(name, "arn:") {
		return name
	}
	account := s.AccountID
	if acct, rest, ok := strings.Cut(name, ":function:"); ok {
		account, name = acct, rest
	}
	partition := s.Partition
	if partition == "" {
		partition = "aws"
	}
	return arn.ARN{Partition: partition, Service: "lambda", Region: s.Region, AccountID: account, Resource: "function:" + name}.String()
}
