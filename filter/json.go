package filter

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// maxDepth bounds the nesting of decoded JSON, as encoding/json does.
const maxDepth = 10000

// SyntaxError is the error of decode and [Filter.MatchJSON] for input that
// is not valid JSON (RFC 8259).
type SyntaxError struct {
	Offset int // byte offset of the problem
	msg    string
}

func (e *SyntaxError) Error() string {
	return "filter: invalid JSON at offset " + strconv.Itoa(e.Offset) + ": " + e.msg
}

// decode decodes one JSON value. Strings without escapes share memory with
// a copy of data, which decode makes once.
func decode(data []byte) (value, error) {
	var d decoder
	return d.decode(string(data), nil)
}

// need is the set of object keys a compiled filter reads, as a tree: the
// decoder of [Filter.MatchJSON] keeps those and only checks the syntax of the
// rest. Arrays are transparent: a need applies to every element.
type need struct {
	names []string
	kids  []*need
	index map[string]*need // when there are many names
}

func (n *need) child(key string) *need {
	if n.index != nil {
		return n.index[key]
	}
	for i, name := range n.names {
		if name == key {
			return n.kids[i]
		}
	}
	return nil
}

// lookup returns the name and need of a key given as the body of a JSON
// string (escapes not decoded), or "" and nil when n does not name it.
// The name is the pattern's string.
func (n *need) lookup(raw string, escaped bool) (string, *need) {
	if escaped {
		var buf [64]byte
		return n.lookupBytes(appendUnescaped(buf[:0], raw))
	}
	if n.index != nil {
		c := n.index[raw]
		if c == nil {
			return "", nil
		}
		return n.nameOf(c), c
	}
	for i, name := range n.names {
		if name == raw {
			return name, n.kids[i]
		}
	}
	return "", nil
}

func (n *need) lookupBytes(key []byte) (string, *need) {
	if n.index != nil {
		c := n.index[string(key)]
		if c == nil {
			return "", nil
		}
		return n.nameOf(c), c
	}
	for i, name := range n.names {
		if name == string(key) {
			return name, n.kids[i]
		}
	}
	return "", nil
}

func (n *need) nameOf(c *need) string {
	for i, k := range n.kids {
		if k == c {
			return n.names[i]
		}
	}
	return ""
}

func (n *need) add(key string) *need {
	if c := n.child(key); c != nil {
		return c
	}
	c := &need{}
	n.names = append(n.names, key)
	n.kids = append(n.kids, c)
	if len(n.names) > 8 {
		n.index = make(map[string]*need, len(n.names))
		for i, name := range n.names {
			n.index[name] = n.kids[i]
		}
	}
	return c
}

// decoder is a JSON decoder into Values. With a need it decodes only what
// the need names (an object whose need has no keys keeps its kind and no
// fields) and validates the rest. Objects keep every member, repeated keys
// included, in order.
type decoder struct {
	s     string
	b     []byte // s's bytes, read only
	i     int
	depth int
	fs    []field  // stack of the members of open objects
	es    []value  // stack of the elements of open arrays
	spill []uint64 // open containers of skip beyond 64 levels
	fa    []field  // arena for finished objects
	ea    []value  // arena for finished arrays
	ba    []byte   // arena for unescaped strings
	root  value    // the value of acquire
	// pooled: the decoder is reused and its values die with the match, so
	// containers come from the arenas. Otherwise each gets its own slice,
	// sized exactly, as the values outlive the decoder.
	pooled bool
}

var decoders = sync.Pool{New: func() any { return &decoder{pooled: true} }}

// acquire decodes data with a pooled decoder for a match that does not
// keep the result: data is not copied, and the decoder's arenas are reused.
// The caller must release the decoder, after which the Value is invalid.
func acquire(data []byte, n *need) (*decoder, *value, error) {
	if len(data) == 0 {
		return nil, nil, &SyntaxError{Offset: 0, msg: "unexpected end of input"}
	}
	d := decoders.Get().(*decoder)
	// The string shares data's memory. No Value made from it outlives the
	// match: release drops the string, and the arenas are overwritten before
	// they are read again.
	v, err := d.decode(unsafe.String(&data[0], len(data)), n)
	if err == nil && v.kind != kindObject {
		err = fmt.Errorf("filter: the event is a JSON %s, not an object", v.kind)
	}
	if err != nil {
		d.release()
		return nil, nil, err
	}
	d.root = v
	return d, &d.root, nil
}

func (d *decoder) release() {
	d.s, d.b = "", nil
	d.root = value{}
	d.fa = d.fa[:0]
	d.ea = d.ea[:0]
	d.ba = d.ba[:0]
	decoders.Put(d)
}

func (d *decoder) decode(s string, n *need) (value, error) {
	d.s, d.i, d.depth = s, 0, 0
	d.b = unsafe.Slice(unsafe.StringData(s), len(s)) // never written
	d.fs, d.es = d.fs[:0], d.es[:0]
	v, err := d.value(n)
	if err != nil {
		return value{}, err
	}
	d.ws()
	if d.i < len(d.s) {
		return value{}, d.errf("unexpected %q after the value", d.s[d.i])
	}
	return v, nil
}

func (d *decoder) errf(format string, args ...any) error {
	return &SyntaxError{Offset: d.i, msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) eof() error {
	return &SyntaxError{Offset: d.i, msg: "unexpected end of input"}
}

func (d *decoder) ws() {
	i := d.i
	if i < len(d.b) && d.b[i] > ' ' {
		return
	}
	for i < len(d.b) && space[d.b[i]] {
		i++
	}
	d.i = i
}

// value decodes the value at d.i. With n == nil everything is kept.
func (d *decoder) value(n *need) (value, error) {
	d.ws()
	if d.i >= len(d.s) {
		return value{}, d.eof()
	}
	switch c := d.s[d.i]; c {
	case '{':
		return d.object(n)
	case '[':
		return d.array(n)
	case '"':
		s, err := d.str()
		return value{kind: kindString, str: s}, err
	case 't':
		return value{kind: kindTrue}, d.literal("true")
	case 'f':
		return value{kind: kindFalse}, d.literal("false")
	case 'n':
		return value{kind: kindNull}, d.literal("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			start := d.i
			if err := d.number(); err != nil {
				return value{}, err
			}
			return numberValue(d.s[start:d.i]), nil
		}
		return value{}, d.errf("unexpected %q", c)
	}
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > maxDepth {
		return d.errf("nested deeper than %d", maxDepth)
	}
	return nil
}

func (d *decoder) object(n *need) (value, error) {
	if n != nil && len(n.names) == 0 {
		// Only the kind matters here.
		if err := d.skip(); err != nil {
			return value{}, err
		}
		return value{kind: kindObject}, nil
	}
	if err := d.enter(); err != nil {
		return value{}, err
	}
	d.i++ // {
	start := len(d.fs)
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		d.depth--
		return value{kind: kindObject}, nil
	}
	for {
		d.ws()
		if d.i >= len(d.s) {
			return value{}, d.eof()
		}
		if d.s[d.i] != '"' {
			return value{}, d.errf("expected a string key, found %q", d.s[d.i])
		}
		var key string
		var c *need
		if n == nil {
			k, err := d.str()
			if err != nil {
				return value{}, err
			}
			key = k
		} else {
			raw, escaped, err := d.rawStr()
			if err != nil {
				return value{}, err
			}
			// The key as the pattern writes it: a key costs no string of
			// its own, escaped or not.
			key, c = n.lookup(raw, escaped)
		}
		d.ws()
		if d.i >= len(d.s) {
			return value{}, d.eof()
		}
		if d.s[d.i] != ':' {
			return value{}, d.errf("expected ':' after an object key, found %q", d.s[d.i])
		}
		d.i++
		if n == nil {
			v, err := d.value(nil)
			if err != nil {
				return value{}, err
			}
			d.fs = append(d.fs, field{Key: key, Value: v})
		} else if c != nil {
			v, err := d.value(c)
			if err != nil {
				return value{}, err
			}
			d.fs = append(d.fs, field{Key: key, Value: v})
		} else if err := d.skip(); err != nil {
			return value{}, err
		}
		d.ws()
		if d.i >= len(d.s) {
			return value{}, d.eof()
		}
		switch d.s[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			d.depth--
			obj := d.fieldsFrom(start)
			return value{kind: kindObject, obj: obj}, nil
		default:
			return value{}, d.errf("expected ',' or '}' in an object, found %q", d.s[d.i])
		}
	}
}

// fieldsFrom moves the members pushed since start into the arena.
func (d *decoder) fieldsFrom(start int) []field {
	m := d.fs[start:]
	if len(m) == 0 {
		return nil
	}
	if !d.pooled {
		out := make([]field, len(m))
		copy(out, m)
		clear(m)
		d.fs = d.fs[:start]
		return out
	}
	if cap(d.fa)-len(d.fa) < len(m) {
		d.fa = make([]field, 0, max(2*cap(d.fa), len(m), 32))
	}
	at := len(d.fa)
	d.fa = append(d.fa, m...)
	clear(m)
	d.fs = d.fs[:start]
	return d.fa[at:len(d.fa):len(d.fa)]
}

// reserveFields returns an empty slice of capacity n from the arena, for
// an object that a builder fills.
func (d *decoder) reserveFields(n int) []field {
	if cap(d.fa)-len(d.fa) < n {
		d.fa = make([]field, 0, max(2*cap(d.fa), n, 32))
	}
	at := len(d.fa)
	d.fa = d.fa[:at+n]
	return d.fa[at : at : at+n]
}

func (d *decoder) elemsFrom(start int) []value {
	m := d.es[start:]
	if len(m) == 0 {
		return nil
	}
	if !d.pooled {
		out := make([]value, len(m))
		copy(out, m)
		clear(m)
		d.es = d.es[:start]
		return out
	}
	if cap(d.ea)-len(d.ea) < len(m) {
		d.ea = make([]value, 0, max(2*cap(d.ea), len(m), 32))
	}
	at := len(d.ea)
	d.ea = append(d.ea, m...)
	clear(m)
	d.es = d.es[:start]
	return d.ea[at:len(d.ea):len(d.ea)]
}

func (d *decoder) array(n *need) (value, error) {
	if err := d.enter(); err != nil {
		return value{}, err
	}
	d.i++ // [
	start := len(d.es)
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
		d.depth--
		return value{kind: kindArray}, nil
	}
	for {
		v, err := d.value(n)
		if err != nil {
			return value{}, err
		}
		d.es = append(d.es, v)
		d.ws()
		if d.i >= len(d.s) {
			return value{}, d.eof()
		}
		switch d.s[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			d.depth--
			return value{kind: kindArray, arr: d.elemsFrom(start)}, nil
		default:
			return value{}, d.errf("expected ',' or ']' in an array, found %q", d.s[d.i])
		}
	}
}

// skip validates the value at d.i and moves past it. Most of an event is
// skipped: scan runs over it without calls, so that its state stays in
// registers, and returns here for what is rare (escapes, exponents, more
// than 64 levels of nesting) and for errors.
func (d *decoder) skip() error {
	b, i := d.b, d.i
	var top uint64 // see scan
	depth := 0
	spill := d.spill[:0] // the words of top beyond 64 levels
	st := stValue
	for {
		var code uint8
		i, top, depth, code = scan(b, i, top, depth, maxDepth-d.depth, st)
		switch code {
		case exitDone:
			d.i, d.spill = i, spill
			return nil
		case exitNumber:
			d.i = i
			if err := d.number(); err != nil {
				d.spill = spill
				return err
			}
			i, st = d.i, stAfter
		case exitEscape, exitEscapeKey:
			n, err := escapeLen(d.s, i)
			if err != nil {
				d.i, d.spill = i, spill
				return err
			}
			i += n
			st = stString
			if code == exitEscapeKey {
				st = stKeyString
			}
		case exitPush:
			spill = append(spill, top)
			top = uint64(b[i] >> 5 & 1)
			depth++
			i++
			st = stOpenArray
			if top == 1 {
				st = stOpenObject
			}
		case exitPop:
			top = spill[len(spill)-1]
			spill = spill[:len(spill)-1]
			st = stAfter
		case exitControl:
			d.i, d.spill = i, spill
			return d.errf("control character %#x in a string", b[i])
		default:
			d.spill = spill
			return d.skipError(i, depth)
		}
	}
}

// The states scan starts in.
const (
	stValue      uint8 = iota // before a value
	stAfter                   // after a value
	stString                  // in a string value
	stKeyString               // in an object key
	stOpenObject              // after '{'
	stOpenArray               // after '['
)

// Why scan returns.
const (
	exitDone      uint8 = iota // the value is skipped
	exitFail                   // a syntax error at i
	exitNumber                 // a number at i that scan does not take (an exponent, or invalid)
	exitEscape                 // an escape at i, in a string value
	exitEscapeKey              // an escape at i, in an object key
	exitControl                // a control character at i, in a string
	exitPush                   // a container opens at i, below 64 others: top must spill
	exitPop                    // a container closed, 64 remain: top must be refilled
)

// scan is skip's state machine: from state st at b[i], with depth
// containers open (top holds the innermost 64, innermost at bit 0: 1 an
// object, 0 an array; at most limit), it moves over JSON until the value is
// done or it needs skip. It makes no calls. Each state loads the byte it
// looks at once and goes past whitespace only when that byte is at most
// ' '.
func scan(b []byte, i int, top uint64, depth, limit int, st uint8) (int, uint64, int, uint8) {
	key := false // the string being scanned is an object key
	var c byte
	switch st {
	case stAfter:
		goto after
	case stString:
		goto str
	case stKeyString:
		key = true
		goto str
	case stOpenObject:
		goto openObject
	case stOpenArray:
		goto openArray
	}
value:
	if i >= len(b) {
		goto fail
	}
	c = b[i]
	if c <= ' ' {
		for space[c] {
			if i++; i >= len(b) {
				goto fail
			}
			c = b[i]
		}
	}
haveValue:
	if c == '"' {
		i++
		goto str
	}
	if c-'0' < 10 || c == '-' {
		// A number: the common forms here, the rest (exponents, errors)
		// in number.
		j := i
		if c == '-' {
			if j++; j >= len(b) {
				return i, top, depth, exitNumber
			}
			c = b[j]
			if c-'0' >= 10 {
				return i, top, depth, exitNumber
			}
		}
		j++
		if c != '0' {
			for j < len(b) && b[j]-'0' < 10 {
				j++
			}
		}
		if j < len(b) {
			switch b[j] {
			case '.':
				j++
				if j >= len(b) || b[j]-'0' >= 10 {
					return i, top, depth, exitNumber
				}
				// Fractions are long (coordinates, timestamps): eight
				// digits at a time, as in digits.
				for j++; j+8 <= len(b); j += 8 {
					w := binary.LittleEndian.Uint64(b[j:])
					bad := (w&0xF0F0F0F0F0F0F0F0 ^ 0x3030303030303030) |
						((w+0x0606060606060606)&0xF0F0F0F0F0F0F0F0 ^ 0x3030303030303030)
					if bad != 0 {
						z := ^((bad&0x7F7F7F7F7F7F7F7F + 0x7F7F7F7F7F7F7F7F) | bad | 0x7F7F7F7F7F7F7F7F)
						j += bits.TrailingZeros64(^z&0x8080808080808080) / 8
						goto fraction
					}
				}
				for j < len(b) && b[j]-'0' < 10 {
					j++
				}
			fraction:
				if j < len(b) && b[j]|0x20 == 'e' {
					return i, top, depth, exitNumber
				}
			case 'e', 'E':
				return i, top, depth, exitNumber
			}
		}
		i = j
		goto after
	}
	switch c {
	case '{', '[':
		if depth >= limit {
			goto fail
		}
		if depth&63 == 0 && depth > 0 {
			return i, top, depth, exitPush
		}
		top = top<<1 | uint64(c>>5&1) // bit 5: 1 in '{' (0x7b) and '}', 0 in '[' (0x5b) and ']'
		depth++
		i++
		if c == '{' {
			goto openObject
		}
		goto openArray
	case 't':
		if len(b)-i < 4 || binary.LittleEndian.Uint32(b[i:]) != 0x65757274 { // "true"
			goto fail
		}
		i += 4
	case 'f':
		if len(b)-i < 5 || binary.LittleEndian.Uint32(b[i:]) != 0x736c6166 || b[i+4] != 'e' { // "false"
			goto fail
		}
		i += 5
	case 'n':
		if len(b)-i < 4 || binary.LittleEndian.Uint32(b[i:]) != 0x6c6c756e { // "null"
			goto fail
		}
		i += 4
	default:
		goto fail
	}
after:
	if depth == 0 {
		return i, top, depth, exitDone
	}
	if i >= len(b) {
		goto fail
	}
	c = b[i]
	if c <= ' ' {
		for space[c] {
			if i++; i >= len(b) {
				goto fail
			}
			c = b[i]
		}
	}
	if c == ',' {
		i++
		if top&1 == 0 {
			goto value
		}
		if i < len(b) && b[i] == '"' {
			i++
			key = true
			goto str
		}
		goto key
	}
	// '}' (0x7d) closes an object, ']' (0x5d) an array.
	if c|0x20 != '}' || uint64(c>>5&1) != top&1 {
		goto fail
	}
	i++
pop:
	depth--
	top >>= 1
	if depth&63 == 0 && depth > 0 {
		return i, top, depth, exitPop
	}
	goto after
openArray:
	if i >= len(b) {
		goto fail
	}
	c = b[i]
	if c <= ' ' {
		for space[c] {
			if i++; i >= len(b) {
				goto fail
			}
			c = b[i]
		}
	}
	if c == ']' {
		i++
		goto pop
	}
	goto haveValue
openObject:
	if i >= len(b) {
		goto fail
	}
	c = b[i]
	if c <= ' ' {
		for space[c] {
			if i++; i >= len(b) {
				goto fail
			}
			c = b[i]
		}
	}
	if c == '}' {
		i++
		goto pop
	}
	goto haveKey
key:
	if i >= len(b) {
		goto fail
	}
	c = b[i]
	if c <= ' ' {
		for space[c] {
			if i++; i >= len(b) {
				goto fail
			}
			c = b[i]
		}
	}
haveKey:
	if c != '"' {
		goto fail
	}
	i++
	key = true
str:
	// Eight bytes at a time up to the first '"', '\\' or control
	// character: a zero byte of w^'"' or of w^'\\', or a byte of w below
	// 0x20, sets its high bit in m. A borrow can set bits above a true
	// one, never below, so the lowest is exact.
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i : i+8 : i+8])
		q := w ^ (ones * '"')
		e := w ^ (ones * '\\')
		m := ((q - ones) &^ q) | ((e - ones) &^ e) | ((w - ones*0x20) &^ w)
		if m &= ones * 0x80; m != 0 {
			i += bits.TrailingZeros64(m) >> 3
			goto stop
		}
		i += 8
	}
	for i < len(b) && plain[b[i]] {
		i++
	}
	if i >= len(b) {
		goto fail
	}
stop:
	switch b[i] {
	case '"':
		i++
		if !key {
			goto after
		}
		key = false
	case '\\':
		if key {
			return i, top, depth, exitEscapeKey
		}
		return i, top, depth, exitEscape
	default:
		return i, top, depth, exitControl
	}
	// The colon after a key.
	if i+1 < len(b) && b[i] == ':' && b[i+1] == '"' {
		i += 2
		goto str
	}
	if i >= len(b) {
		goto fail
	}
	c = b[i]
	if c <= ' ' {
		for space[c] {
			if i++; i >= len(b) {
				goto fail
			}
			c = b[i]
		}
	}
	if c != ':' {
		goto fail
	}
	i++
	goto value
fail:
	return i, top, depth, exitFail
}

// ones has a 1 in every byte, for the word-at-a-time scans.
const ones = 0x0101010101010101

// skipError describes the syntax error skip stopped at, with depth
// containers open.
func (d *decoder) skipError(i, depth int) error {
	d.i = i
	s := d.s
	switch {
	case i >= len(s):
		return d.eof()
	case depth+d.depth >= maxDepth && (s[i] == '{' || s[i] == '['):
		return d.errf("nested deeper than %d", maxDepth)
	case s[i] == 't' && !strings.HasPrefix(s[i:], "true"):
		return d.errf("invalid literal (expected true)")
	case s[i] == 'f' && !strings.HasPrefix(s[i:], "false"):
		return d.errf("invalid literal (expected false)")
	case s[i] == 'n' && !strings.HasPrefix(s[i:], "null"):
		return d.errf("invalid literal (expected null)")
	}
	return d.errf("unexpected %q", s[i])
}

// space marks JSON whitespace.
var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

func (d *decoder) literal(word string) error {
	if len(d.s)-d.i >= len(word) && d.s[d.i:d.i+len(word)] == word {
		d.i += len(word)
		return nil
	}
	return d.errf("invalid literal (expected %s)", word)
}

// number moves past a number, checking RFC 8259's grammar.
func (d *decoder) number() error {
	s, i := d.s, d.i
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i]-'1' < 9:
		i = d.digits(i + 1)
	default:
		d.i = i
		return d.errf("invalid number")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i]-'0' >= 10 {
			d.i = i
			return d.errf("invalid number: no digit after '.'")
		}
		i = d.digits(i + 1)
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i]-'0' >= 10 {
			d.i = i
			return d.errf("invalid number: no digit in the exponent")
		}
		i = d.digits(i + 1)
	}
	d.i = i
	return nil
}

// digits returns the end of the run of ASCII digits at i, eight bytes at a
// time: the fractions of coordinates and timestamps are long.
func (d *decoder) digits(i int) int {
	b := d.b
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		// A byte is a digit when its high nibble is 3 and, plus 6, still
		// is (0x30..0x39). A carry out of a byte only reaches later bytes,
		// after the first failing one.
		bad := (w&0xF0F0F0F0F0F0F0F0 ^ 0x3030303030303030) |
			((w+0x0606060606060606)&0xF0F0F0F0F0F0F0F0 ^ 0x3030303030303030)
		if bad != 0 {
			// High bit of each zero byte, exactly.
			z := ^((bad&0x7F7F7F7F7F7F7F7F + 0x7F7F7F7F7F7F7F7F) | bad | 0x7F7F7F7F7F7F7F7F)
			return i + bits.TrailingZeros64(^z&0x8080808080808080)/8
		}
		i += 8
	}
	for i < len(b) && b[i]-'0' < 10 {
		i++
	}
	return i
}

// validNumber reports whether s is exactly one JSON number.
func validNumber(s string) bool {
	if s == "" {
		return false
	}
	d := decoder{s: s, b: []byte(s)}
	return d.number() == nil && d.i == len(s)
}

// plain marks the bytes that stand for themselves inside a JSON string.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// skipString moves past the string at d.i, checking it.
func (d *decoder) skipString() error {
	b, i := d.b, d.i+1
	for {
		i = stringEnd(b, i)
		if i >= len(b) {
			d.i = i
			return d.eof()
		}
		switch c := b[i]; c {
		case '"':
			d.i = i + 1
			return nil
		case '\\':
			n, err := escapeLen(d.s, i)
			if err != nil {
				d.i = i
				return err
			}
			i += n
		default:
			d.i = i
			return d.errf("control character %#x in a string", c)
		}
	}
}

// stringEnd returns the index of the first '"', '\\' or control character
// at or after i, or len(b), eight bytes at a time as in scan.
func stringEnd(b []byte, i int) int {
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i : i+8 : i+8])
		q := w ^ (ones * '"')
		e := w ^ (ones * '\\')
		m := ((q - ones) &^ q) | ((e - ones) &^ e) | ((w - ones*0x20) &^ w)
		if m &= ones * 0x80; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(b) && plain[b[i]] {
		i++
	}
	return i
}

// escapeLen returns the length of the escape sequence at s[i] ('\\').
func escapeLen(s string, i int) (int, error) {
	if i+1 >= len(s) {
		return 0, &SyntaxError{Offset: i, msg: "unexpected end of input"}
	}
	switch s[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
		if i+6 > len(s) {
			return 0, &SyntaxError{Offset: i, msg: "unexpected end of input"}
		}
		for _, c := range []byte(s[i+2 : i+6]) {
			if !isHex(c) {
				return 0, &SyntaxError{Offset: i, msg: "invalid \\u escape"}
			}
		}
		return 6, nil
	}
	return 0, &SyntaxError{Offset: i, msg: fmt.Sprintf("invalid escape %q", s[i:i+2])}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// str decodes the string at d.i. Without escapes the result shares d.s;
// with escapes, a pooled decoder writes it into its arena.
func (d *decoder) str() (string, error) {
	raw, escaped, err := d.rawStr()
	if err != nil || !escaped {
		return raw, err
	}
	if !d.pooled {
		return unescape(raw), nil
	}
	if cap(d.ba)-len(d.ba) < len(raw) {
		d.ba = make([]byte, 0, max(2*cap(d.ba), len(raw), 256))
	}
	at := len(d.ba)
	d.ba = appendUnescaped(d.ba, raw)
	return unsafeString(d.ba[at:]), nil
}

// rawStr moves past the string at d.i, checking it, and returns its body
// with the escapes as written, and whether it has any.
func (d *decoder) rawStr() (string, bool, error) {
	start := d.i + 1
	i := stringEnd(d.b, start)
	if i < len(d.b) && d.b[i] == '"' {
		d.i = i + 1
		return d.s[start:i], false, nil
	}
	d.i = start - 1
	if err := d.skipString(); err != nil {
		return "", false, err
	}
	return d.s[start : d.i-1], true, nil
}

// unsafeString is b as a string, sharing its memory: b must not change
// while the string is used.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// unescape decodes the body of a valid JSON string, as encoding/json does
// (a lone surrogate becomes U+FFFD).
func unescape(s string) string {
	return string(appendUnescaped(make([]byte, 0, len(s)), s))
}

// appendUnescaped appends the decoded body of a valid JSON string to b.
func appendUnescaped(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(s[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2 := hex4(s[i+2 : i+6]); utf16.DecodeRune(r, r2) != utf8.RuneError {
						b = utf8.AppendRune(b, utf16.DecodeRune(r, r2))
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
			continue
		default: // '"', '\\', '/'
			b = append(b, s[i+1])
		}
		i += 2
	}
	return b
}

func hex4(s string) rune {
	var r rune
	for _, c := range []byte(s) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
