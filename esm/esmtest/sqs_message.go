package esmtest

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// sqsMessage is one stored message. Its pointer fields are shared, read-only,
// with every types.Message handed out for it.
type sqsMessage struct {
	q *sqsQueue
	g *sqsGroup // FIFO queues only

	id, body, md5Body *string
	attrs             []sqsAttr // sorted by name
	md5Attrs          *string   // over all attrs; nil without attributes
	trace             string    // AWSTraceHeader system attribute
	md5Sys            *string
	group, dedupID    string
	seqNum            string // FIFO SequenceNumber
	dlqSource         string // DeadLetterQueueSourceArn after a redrive
	sender            string // SenderId
	sentAt            time.Time
	sentTS            string // SentTimestamp, epoch ms

	visibleAt    time.Time // invisible before: delayed, or in flight once received
	receivedAt   time.Time
	receiveCount int
	firstTS      string // ApproximateFirstReceiveTimestamp
	handle       string // latest receipt handle
	attempt      *sqsAttempt
	deleted      bool

	pos  uint64   // place in the queue's send order
	heap *sqsHeap // standard queues: the heap m is in (see sqs_index.go)
	hi   int      // m's index in heap
}

// inflight reports whether m has been received and is still invisible.
func (m *sqsMessage) inflight(now time.Time) bool {
	return m.receiveCount > 0 && m.visibleAt.After(now)
}

// sqsList is an append-only list of messages with lazy removal: removed
// messages stay in place (marked deleted) until tidy, which callers run only
// when nobody iterates the list.
type sqsList struct {
	s    []*sqsMessage
	head int
	dead int // deleted messages in s[head:]
}

func (l *sqsList) push(m *sqsMessage) { l.s = append(l.s, m) }

func (l *sqsList) len() int { return len(l.s) - l.head - l.dead }

// tidy drops deleted messages from the front, and compacts the list when
// most of it is deleted.
func (l *sqsList) tidy() {
	for l.head < len(l.s) && l.s[l.head].deleted {
		l.s[l.head] = nil
		l.head++
		l.dead--
	}
	if l.head == len(l.s) {
		l.s, l.head = l.s[:0], 0
		return
	}
	if l.dead > 64 && l.dead*2 > len(l.s)-l.head {
		live := make([]*sqsMessage, 0, l.len())
		for _, m := range l.s[l.head:] {
			if !m.deleted {
				live = append(live, m)
			}
		}
		l.s, l.head, l.dead = live, 0, 0
	}
}

// each calls f for every live message in order until f returns false.
func (l *sqsList) each(f func(*sqsMessage) bool) {
	for _, m := range l.s[l.head:] {
		if !m.deleted && !f(m) {
			return
		}
	}
}

// sqsSeqBase makes FIFO sequence numbers look like the service's: 20 digits.
const sqsSeqBase = 18_000_000_000_000_000_000

// add appends m to q. The caller holds the fake's lock.
func (q *sqsQueue) add(m *sqsMessage, now time.Time) {
	m.q = q
	q.seq++
	m.pos = q.seq
	if q.cfg.fifo {
		m.seqNum = strconv.FormatUint(sqsSeqBase+q.seq, 10)
		g := q.groups[m.group]
		if g == nil {
			g = &sqsGroup{id: m.group}
			q.groups[m.group] = g
		}
		m.g = g
		g.msgs.push(m)
	}
	q.msgs.push(m)
	q.file(m, now)
	q.notify()
}

// drop deletes m. The caller holds s.mu.
func (s *SQS) drop(m *sqsMessage) {
	if m.deleted {
		return
	}
	m.deleted = true
	m.unindex()
	m.q.msgs.dead++
	if m.handle != "" {
		delete(s.handles, m.handle)
	}
	if m.attempt != nil {
		m.attempt.spoiled = true
	}
	if g := m.g; g != nil {
		g.msgs.dead++
		g.relock()
		if g.msgs.len() == 0 && m.q.groups[g.id] == g {
			delete(m.q.groups, g.id)
		}
	}
}

// relock recomputes until when g's in-flight messages lock it. Messages of a
// group are delivered in order, so those ever received form a prefix.
func (g *sqsGroup) relock() {
	g.lockUntil = time.Time{}
	for _, m := range g.msgs.s[g.msgs.head:] {
		if m.deleted {
			continue
		}
		if m.receiveCount == 0 {
			break
		}
		if m.visibleAt.After(g.lockUntil) {
			g.lockUntil = m.visibleAt
		}
	}
}

// sqsSend is one message to send, from SendMessage or a batch entry.
type sqsSend struct {
	body   *string
	delay  int32
	attrs  map[string]types.MessageAttributeValue
	sys    map[string]types.MessageSystemAttributeValue
	group  *string
	dedup  *string
	sender string // SenderId; the fake's account when empty
}

// sqsSent is what a send answers.
type sqsSent struct {
	id, seq, md5Body, md5Attrs, md5Sys *string
}

// send validates and stores one message. The caller holds s.mu.
func (s *SQS) send(q *sqsQueue, in sqsSend, now time.Time) (sqsSent, error) {
	if in.body == nil || *in.body == "" {
		return sqsSent{}, sqsMissing("MessageBody")
	}
	body := *in.body
	if len(body) > q.cfg.maxSize {
		return sqsSent{}, sqsInvalidParameter("One or more parameters are invalid. Reason: Message must be shorter than " + strconv.Itoa(q.cfg.maxSize) + " bytes.")
	}
	if err := sqsCheckBody(body); err != nil {
		return sqsSent{}, err
	}
	if err := sqsCheckAttributes(in.attrs); err != nil {
		return sqsSent{}, err
	}
	if in.delay < 0 || in.delay > 900 {
		return sqsSent{}, sqsInvalidParameter("Value " + strconv.Itoa(int(in.delay)) + " for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.")
	}
	var trace string
	for k, v := range in.sys {
		if k != "AWSTraceHeader" || v.StringValue == nil || v.DataType == nil || *v.DataType != "String" {
			return sqsSent{}, sqsInvalidParameter("Message system attribute name '" + k + "' is invalid.")
		}
		trace = *v.StringValue
	}
	m := &sqsMessage{
		body:    new(body),
		md5Body: new(sqsMD5(body)),
		attrs:   sqsCopyAttributes(in.attrs),
		trace:   trace,
		sender:  in.sender,
		sentAt:  now,
		sentTS:  strconv.FormatInt(now.UnixMilli(), 10),
	}
	out := sqsSent{md5Body: m.md5Body}
	if len(m.attrs) > 0 {
		m.md5Attrs = new(sqsMD5OfAttributes(m.attrs))
		out.md5Attrs = m.md5Attrs
	}
	if trace != "" {
		m.md5Sys = new(sqsMD5OfAttributes([]sqsAttr{
			{"AWSTraceHeader", types.MessageAttributeValue{DataType: new("String"), StringValue: new(trace)}},
		}))
		out.md5Sys = m.md5Sys
	}
	if in.group != nil {
		m.group = *in.group
	}
	delay := q.cfg.delay
	if in.delay > 0 {
		delay = time.Duration(in.delay) * time.Second
	}
	if q.cfg.fifo {
		if in.delay > 0 {
			return sqsSent{}, sqsInvalidParameter("Value " + strconv.Itoa(int(in.delay)) + " for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.")
		}
		if m.group == "" {
			return sqsSent{}, sqsMissing("MessageGroupId")
		}
		switch {
		case in.dedup != nil && *in.dedup != "":
			m.dedupID = *in.dedup
		case q.cfg.contentDedup:
			sum := sha256.Sum256([]byte(body))
			m.dedupID = hex.EncodeToString(sum[:])
		default:
			return sqsSent{}, sqsInvalidParameter("The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
		}
		key := m.dedupID
		if q.cfg.groupDedup {
			key = m.group + "\x00" + key
		}
		q.expireDedup(now)
		if d, ok := q.dedup[key]; ok {
			out.id, out.seq = new(d.id), new(d.seq)
			return out, nil
		}
		s.ids++
		m.id = new(sqsUUID(s.ids))
		m.visibleAt = now.Add(delay)
		q.add(m, now)
		until := now.Add(sqsAttemptWindow)
		q.dedup[key] = sqsDedup{id: *m.id, seq: m.seqNum, until: until}
		q.dedupOrder = append(q.dedupOrder, sqsDedupKey{key: key, until: until})
		out.id, out.seq = m.id, new(m.seqNum)
		return out, nil
	}
	if in.dedup != nil {
		return sqsSent{}, sqsInvalidParameter("The request include parameter MessageDeduplicationId that is not valid for this queue type")
	}
	s.ids++
	m.id = new(sqsUUID(s.ids))
	m.visibleAt = now.Add(delay)
	q.add(m, now)
	out.id = m.id
	return out, nil
}

// expireDedup forgets deduplication IDs older than the interval.
func (q *sqsQueue) expireDedup(now time.Time) {
	i := 0
	for ; i < len(q.dedupOrder) && !q.dedupOrder[i].until.After(now); i++ {
		k := q.dedupOrder[i]
		if q.dedup[k.key].until.Equal(k.until) {
			delete(q.dedup, k.key)
		}
	}
	if i > 0 {
		q.dedupOrder = slices.Delete(q.dedupOrder, 0, i)
	}
}

// sqsCheckBody rejects characters SQS does not accept in a body: only #x9,
// #xA, #xD, #x20 to #xD7FF, #xE000 to #xFFFD and #x10000 to #x10FFFF.
func sqsCheckBody(b string) error {
	for i := 0; i < len(b); {
		c := b[i]
		if c >= 0x20 && c < 0x80 || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(b[i:])
		if c < 0x80 || r == utf8.RuneError && n == 1 || r >= 0xD800 && r <= 0xDFFF || r == 0xFFFE || r == 0xFFFF {
			return &types.InvalidMessageContents{Message: new("Invalid binary character '#x" + strconv.FormatInt(int64(r), 16) +
				"' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")}
		}
		i += n
	}
	return nil
}

// sqsCheckAttributes validates message attributes as SQS does.
func sqsCheckAttributes(attrs map[string]types.MessageAttributeValue) error {
	if len(attrs) > 10 {
		return sqsInvalidParameter("Number of message attributes [" + strconv.Itoa(len(attrs)) + "] exceeds the allowed maximum [10].")
	}
	for name, v := range attrs {
		lower := strings.ToLower(name)
		if name == "" || len(name) > 256 || strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") ||
			strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") ||
			strings.ContainsFunc(name, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.')
			}) {
			return sqsInvalidParameter("Message attribute name '" + name + "' is invalid.")
		}
		if v.DataType == nil || *v.DataType == "" {
			return sqsInvalidParameter("The message attribute '" + name + "' must contain non-empty message attribute type.")
		}
		base, _, _ := strings.Cut(*v.DataType, ".")
		switch base {
		case "String", "Number":
			if v.StringValue == nil || *v.StringValue == "" {
				return sqsInvalidParameter("The message attribute '" + name + "' must contain non-empty message attribute value for message attribute type '" + base + "'.")
			}
			if base == "Number" {
				if _, err := strconv.ParseFloat(*v.StringValue, 64); err != nil {
					return sqsInvalidParameter("Can't cast the value of message (user) attribute '" + name + "' to a number.")
				}
			}
		case "Binary":
			if len(v.BinaryValue) == 0 {
				return sqsInvalidParameter("The message attribute '" + name + "' must contain non-empty message attribute value for message attribute type 'Binary'.")
			}
		default:
			return sqsInvalidParameter("The type of message (user) attribute '" + name + "' is invalid. You must use only the following supported type prefixes: Binary, Number, String.")
		}
	}
	return nil
}

// sqsMD5 is the hex MD5 of s, as in MD5OfMessageBody.
func sqsMD5(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// sqsAttr is one stored message attribute.
type sqsAttr struct {
	name string
	v    types.MessageAttributeValue
}

// sqsCopyAttributes returns a deep copy of attrs, sorted by name, so that the
// sender may reuse what it passed.
func sqsCopyAttributes(attrs map[string]types.MessageAttributeValue) []sqsAttr {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]sqsAttr, 0, len(attrs))
	for k, v := range attrs {
		c := types.MessageAttributeValue{DataType: v.DataType, StringValue: v.StringValue, BinaryValue: bytes.Clone(v.BinaryValue)}
		if v.DataType != nil {
			c.DataType = new(*v.DataType)
		}
		if v.StringValue != nil {
			c.StringValue = new(*v.StringValue)
		}
		out = append(out, sqsAttr{k, c})
	}
	slices.SortFunc(out, func(a, b sqsAttr) int { return strings.Compare(a.name, b.name) })
	return out
}

// sqsMD5OfAttributes computes MD5OfMessageAttributes exactly as SQS does:
// for each attribute in name order, the length-prefixed (4 bytes, big
// endian) name and data type, a transport byte (1 string, 2 binary), and the
// length-prefixed value.
func sqsMD5OfAttributes(attrs []sqsAttr) string {
	h := md5.New()
	var n [4]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, a := range attrs {
		v := a.v
		put([]byte(a.name))
		if v.DataType != nil {
			put([]byte(*v.DataType))
		}
		switch {
		case v.StringValue != nil:
			h.Write([]byte{1})
			put([]byte(*v.StringValue))
		case v.BinaryValue != nil:
			h.Write([]byte{2})
			put(v.BinaryValue)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sqsUUID returns a deterministic, random-looking version 4 UUID for n.
func sqsUUID(n uint64) string {
	mix := func(x uint64) uint64 { // splitmix64
		x += 0x9e3779b97f4a7c15
		x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
		x = (x ^ x>>27) * 0x94d049bb133111eb
		return x ^ x>>31
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], mix(n))
	binary.BigEndian.PutUint64(b[8:], mix(^n))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// Bits of the system attributes a receive asks for.
const (
	sqsSysSender uint16 = 1 << iota
	sqsSysSent
	sqsSysCount
	sqsSysFirst
	sqsSysSeq
	sqsSysDedup
	sqsSysGroup
	sqsSysTrace
	sqsSysDLQ
	sqsSysAll = 1<<iota - 1
)

var sqsSysBits = map[string]uint16{
	"All":                              sqsSysAll,
	"SenderId":                         sqsSysSender,
	"SentTimestamp":                    sqsSysSent,
	"ApproximateReceiveCount":          sqsSysCount,
	"ApproximateFirstReceiveTimestamp": sqsSysFirst,
	"SequenceNumber":                   sqsSysSeq,
	"MessageDeduplicationId":           sqsSysDedup,
	"MessageGroupId":                   sqsSysGroup,
	"AWSTraceHeader":                   sqsSysTrace,
	"DeadLetterQueueSourceArn":         sqsSysDLQ,
}

// sqsView says which attributes a types.Message carries.
type sqsView struct {
	sys      uint16
	allAttrs bool
	names    []string // exact message attribute names
	prefixes []string // "name." for a requested "name.*"
}

// sqsViewAll shows every attribute (for peeking).
var sqsViewAll = sqsView{sys: sqsSysAll, allAttrs: true}

func (v *sqsView) wants(name string) bool {
	if v.allAttrs || slices.Contains(v.names, name) {
		return true
	}
	for _, p := range v.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// sdkMessage renders m as the SDK type. The caller holds the fake's lock.
func (s *SQS) sdkMessage(m *sqsMessage, handle *string, v *sqsView) types.Message {
	out := types.Message{MessageId: m.id, Body: m.body, MD5OfBody: m.md5Body, ReceiptHandle: handle}
	if v.sys != 0 {
		a := make(map[string]string, 8)
		set := func(bit uint16, k, val string) {
			if v.sys&bit != 0 && val != "" {
				a[k] = val
			}
		}
		sender := m.sender
		if sender == "" {
			sender = s.account
		}
		set(sqsSysSender, "SenderId", sender)
		set(sqsSysSent, "SentTimestamp", m.sentTS)
		set(sqsSysCount, "ApproximateReceiveCount", strconv.Itoa(m.receiveCount))
		set(sqsSysFirst, "ApproximateFirstReceiveTimestamp", m.firstTS)
		set(sqsSysSeq, "SequenceNumber", m.seqNum)
		set(sqsSysDedup, "MessageDeduplicationId", m.dedupID)
		set(sqsSysGroup, "MessageGroupId", m.group)
		set(sqsSysTrace, "AWSTraceHeader", m.trace)
		set(sqsSysDLQ, "DeadLetterQueueSourceArn", m.dlqSource)
		out.Attributes = a
	}
	if len(m.attrs) == 0 || !v.allAttrs && len(v.names) == 0 && len(v.prefixes) == 0 {
		return out
	}
	n := 0
	for _, a := range m.attrs {
		if v.wants(a.name) {
			if out.MessageAttributes == nil {
				out.MessageAttributes = make(map[string]types.MessageAttributeValue, len(m.attrs))
			}
			out.MessageAttributes[a.name] = a.v
			n++
		}
	}
	switch {
	case n == len(m.attrs):
		out.MD5OfMessageAttributes = m.md5Attrs
	case n > 0:
		sub := make([]sqsAttr, 0, n)
		for _, a := range m.attrs {
			if v.wants(a.name) {
				sub = append(sub, a)
			}
		}
		out.MD5OfMessageAttributes = new(sqsMD5OfAttributes(sub))
	}
	return out
}
