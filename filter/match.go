package filter

import (
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNumeric bounds numeric matching: EventBridge documents numeric matching
// for values between -5.0e9 and +5.0e9 inclusive. Pattern operands outside
// are refused; event numbers outside are not numeric (they still match
// exactly by their literal).
const maxNumeric = 5e9

// leafMatcher is the list of values of one field of a pattern: it matches a
// leaf value (string, number, true, false, null) when any element does.
type leafMatcher struct {
	any        bool // {"exists": true}
	exact      []string
	exactSet   map[string]struct{} // exact, when long
	ips        []ipRange           // cidr, and exact strings that are IP addresses
	prefix     []string
	suffix     []string
	prefixFold []string
	suffixFold []string
	equalFold  []string
	wild       []wildcard
	lits       []string  // JSON literals of numbers, true, false, null
	nums       []float64 // numeric equality (exact numbers, "=")
	ranges     []numRange
	nots       []notMatcher
}

type numRange struct {
	lo, hi         float64
	loOpen, hiOpen bool
}

func (r numRange) contains(f float64) bool {
	if f < r.lo || (r.loOpen && f == r.lo) {
		return false
	}
	return f < r.hi || (!r.hiOpen && f == r.hi)
}

// notKind is the kind of an anything-but.
type notKind uint8

const (
	notString   notKind = iota // anything-but strings
	notNumber                  // anything-but numbers
	notPrefix                  // anything-but {prefix}
	notSuffix                  // anything-but {suffix}
	notFold                    // anything-but {equals-ignore-case}
	notWildcard                // anything-but {wildcard}
)

// notMatcher is one anything-but: it matches every leaf value except those
// it names. The string forms never exclude a number, true, false or null;
// the numeric form never excludes a string.
type notMatcher struct {
	kind notKind
	strs []string
	nums []float64
	wild []wildcard
}

func (n *notMatcher) matchString(s string) bool {
	switch n.kind {
	case notString:
		for _, x := range n.strs {
			if s == x {
				return false
			}
		}
	case notPrefix:
		for _, x := range n.strs {
			if strings.HasPrefix(s, x) {
				return false
			}
		}
	case notSuffix:
		for _, x := range n.strs {
			if strings.HasSuffix(s, x) {
				return false
			}
		}
	case notFold:
		for _, x := range n.strs {
			if strings.EqualFold(s, x) {
				return false
			}
		}
	case notWildcard:
		for i := range n.wild {
			if n.wild[i].match(s) {
				return false
			}
		}
	}
	return true
}

func (m *leafMatcher) match(v *value) bool {
	if m.any {
		return true
	}
	switch v.kind {
	case kindString:
		return m.matchString(v.str)
	case kindNumber:
		for _, l := range m.lits {
			if l == v.str {
				return true
			}
		}
		if v.flags&flagNumeric != 0 {
			for _, f := range m.nums {
				if f == v.num {
					return true
				}
			}
			for _, r := range m.ranges {
				if r.contains(v.num) {
					return true
				}
			}
		}
		for i := range m.nots {
			n := &m.nots[i]
			if n.kind != notNumber || v.flags&flagNumeric == 0 {
				return true
			}
			excluded := false
			for _, f := range n.nums {
				if f == v.num {
					excluded = true
					break
				}
			}
			if !excluded {
				return true
			}
		}
		return false
	default: // null, true, false
		lit := literalOf(v.kind)
		for _, l := range m.lits {
			if l == lit {
				return true
			}
		}
		return len(m.nots) > 0
	}
}

func literalOf(k valueKind) string {
	switch k {
	case kindTrue:
		return "true"
	case kindFalse:
		return "false"
	}
	return "null"
}

func (m *leafMatcher) matchString(s string) bool {
	if m.exactSet != nil {
		if _, ok := m.exactSet[s]; ok {
			return true
		}
	} else {
		for _, x := range m.exact {
			if x == s {
				return true
			}
		}
	}
	for _, x := range m.prefix {
		if strings.HasPrefix(s, x) {
			return true
		}
	}
	for _, x := range m.suffix {
		if strings.HasSuffix(s, x) {
			return true
		}
	}
	for _, x := range m.equalFold {
		if strings.EqualFold(s, x) {
			return true
		}
	}
	for _, x := range m.prefixFold {
		if hasPrefixFold(s, x) {
			return true
		}
	}
	for _, x := range m.suffixFold {
		if hasSuffixFold(s, x) {
			return true
		}
	}
	for i := range m.wild {
		if m.wild[i].match(s) {
			return true
		}
	}
	if len(m.ips) > 0 {
		if a, ok := parseIP(s); ok {
			for _, r := range m.ips {
				if r.contains(a) {
					return true
				}
			}
		}
	}
	for i := range m.nots {
		if m.nots[i].kind == notNumber || m.nots[i].matchString(s) {
			return true
		}
	}
	return false
}

// equalFoldRune reports whether a and b are equal under Unicode simple case
// folding, as strings.EqualFold compares runes.
func equalFoldRune(a, b rune) bool {
	if a == b {
		return true
	}
	if a < utf8.RuneSelf && b < utf8.RuneSelf {
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		return a == b
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	for prefix != "" {
		if s == "" {
			return false
		}
		pr, pn := utf8.DecodeRuneInString(prefix)
		sr, sn := utf8.DecodeRuneInString(s)
		if !equalFoldRune(pr, sr) {
			return false
		}
		prefix, s = prefix[pn:], s[sn:]
	}
	return true
}

func hasSuffixFold(s, suffix string) bool {
	for suffix != "" {
		if s == "" {
			return false
		}
		pr, pn := utf8.DecodeLastRuneInString(suffix)
		sr, sn := utf8.DecodeLastRuneInString(s)
		if !equalFoldRune(pr, sr) {
			return false
		}
		suffix, s = suffix[:len(suffix)-pn], s[:len(s)-sn]
	}
	return true
}

// wildcard is a compiled wildcard value: literal segments separated by '*'.
type wildcard struct {
	segs []string // len(segs) == number of '*' + 1
}

func (w *wildcard) match(s string) bool {
	segs := w.segs
	if len(segs) == 1 {
		return s == segs[0]
	}
	first, last := segs[0], segs[len(segs)-1]
	if !strings.HasPrefix(s, first) {
		return false
	}
	s = s[len(first):]
	if !strings.HasSuffix(s, last) {
		return false
	}
	s = s[:len(s)-len(last)]
	for _, seg := range segs[1 : len(segs)-1] {
		i := strings.Index(s, seg)
		if i < 0 {
			return false
		}
		s = s[i+len(seg):]
	}
	return true
}

// parseWildcard compiles a wildcard value: '*' matches any run of
// characters, "\*" is a literal '*', "\\" a literal '\'. Two '*' in a row and
// any other escape are refused, as event-ruler refuses them.
func parseWildcard(p string) (wildcard, string) {
	var segs []string
	var cur strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			if i+1 < len(p) && p[i+1] == '*' {
				return wildcard{}, "consecutive wildcard characters at position " + itoa(i)
			}
			segs = append(segs, cur.String())
			cur.Reset()
		case '\\':
			if i+1 < len(p) && (p[i+1] == '*' || p[i+1] == '\\') {
				cur.WriteByte(p[i+1])
				i++
				continue
			}
			return wildcard{}, `invalid escape at position ` + itoa(i) + `: a backslash may only escape '*' or '\'`
		default:
			cur.WriteByte(c)
		}
	}
	return wildcard{segs: append(segs, cur.String())}, ""
}

// ipRange is an inclusive range of addresses of one family.
type ipRange struct {
	lo, hi netip.Addr
}

func (r ipRange) contains(a netip.Addr) bool {
	return a.Is4() == r.lo.Is4() && r.lo.Compare(a) <= 0 && a.Compare(r.hi) <= 0
}

// parseIP parses s as event-ruler does: only text shaped like an IPv4
// address (four dot-separated runs of digits) or an IPv6 address (hex digits
// and colons, at least one colon) is tried; an IPv4-mapped IPv6 address is
// its IPv4 address.
func parseIP(s string) (netip.Addr, bool) {
	if !ipShaped(s) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func ipShaped(s string) bool {
	if s == "" {
		return false
	}
	dots, colons, digitsRun := 0, 0, 0
	v4 := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digitsRun++
		case c == '.':
			if digitsRun == 0 {
				v4 = false
			}
			dots++
			digitsRun = 0
		case c == ':':
			colons++
			v4 = false
		case isHex(c):
			v4 = false
		default:
			return false
		}
	}
	if dots > 0 {
		return v4 && dots == 3 && digitsRun > 0
	}
	return colons > 0
}

// parseCIDR compiles a cidr operand as event-ruler does: the range runs from
// the address as written to that address with all host bits set.
func parseCIDR(s string) (ipRange, string) {
	slash := strings.IndexByte(s, '/')
	if slash < 0 || strings.IndexByte(s[slash+1:], '/') >= 0 {
		return ipRange{}, "cidr must be an IP address, one '/', and a prefix length"
	}
	bits, ok := atoi(s[slash+1:])
	if !ok {
		return ipRange{}, "cidr prefix length must be an integer"
	}
	if bits < 0 {
		return ipRange{}, "cidr prefix length must not be negative"
	}
	a, ok := parseIP(s[:slash])
	if !ok {
		return ipRange{}, "cidr has an invalid IP address " + quote(s[:slash])
	}
	// event-ruler refuses /32 and /128: a single address is matched by
	// writing it as an exact value.
	if a.Is4() && bits > 31 {
		return ipRange{}, "IPv4 cidr prefix length must be below 32 (match one address with an exact value)"
	}
	if !a.Is4() && bits > 127 {
		return ipRange{}, "IPv6 cidr prefix length must be below 128 (match one address with an exact value)"
	}
	b := a.AsSlice()
	host := len(b)*8 - bits
	for i := len(b) - 1; i >= 0 && host > 0; i-- {
		if host >= 8 {
			b[i] = 0xff
		} else {
			b[i] |= byte(1<<host - 1)
		}
		host -= 8
	}
	hi, _ := netip.AddrFromSlice(b)
	return ipRange{lo: a, hi: hi}, ""
}

// objNode is one object level of a conjunctive pattern (a pattern with its
// $or alternatives expanded): every field must match.
type objNode struct {
	fields   []fieldNode
	positive bool // some field is positive
}

// fieldNode holds the conditions on one key: on its leaf values (leaf or
// absent) and on the fields below it (obj).
//
// Array consistency: the conditions of a pattern that reach into the same
// array must be met by one element of it, as event-ruler's rulesForJSONEvent
// requires. A positive condition (one that needs a value: anything but
// exists:false) pins each array it goes through to one element; exists:false
// conditions are then checked in that element only, and must hold in every
// element of an array no positive condition goes through.
type fieldNode struct {
	key      string
	leaf     *leafMatcher // a leaf value must match, or nil
	absent   bool         // no leaf value may be present (exists: false)
	obj      *objNode     // conditions on fields below key, or nil
	positive bool         // leaf != nil, or obj is positive
}

// match evaluates the node against an object; v nil or not an object is
// the empty object.
func (n *objNode) match(v *value) bool {
	for i := range n.fields {
		f := &n.fields[i]
		x := v.get(f.key)
		if x != nil && x.flags&flagPayload != 0 && !f.fitsPayload(x) {
			return false
		}
		if !f.matchValue(x) {
			return false
		}
	}
	return true
}

// fitsPayload applies Lambda's format rules to a record's data key: a JSON
// payload matches only object patterns, a plain-string payload only value
// lists; otherwise the record is dropped.
func (f *fieldNode) fitsPayload(x *value) bool {
	if x.kind == kindObject || x.kind == kindArray {
		return f.leaf == nil && !f.absent
	}
	return f.obj == nil
}

// matchValue evaluates the field's conditions against its value x (nil
// when the key is missing).
func (f *fieldNode) matchValue(x *value) bool {
	if x == nil {
		return f.leaf == nil && (f.obj == nil || f.obj.match(nil))
	}
	switch x.kind {
	case kindArray:
		// Elements, at any depth, are tried: one for a positive field, all
		// for a field of exists:false conditions only.
		if f.positive {
			for i := range x.arr {
				if f.matchValue(&x.arr[i]) {
					return true
				}
			}
			return false
		}
		for i := range x.arr {
			if !f.matchValue(&x.arr[i]) {
				return false
			}
		}
		return true
	case kindObject:
		// Not a leaf value: exists:false holds, a value condition does not.
		return f.leaf == nil && (f.obj == nil || f.obj.match(x))
	case kindMissing:
		return f.leaf == nil && (f.obj == nil || f.obj.match(nil))
	default:
		if f.absent || (f.leaf != nil && !f.leaf.match(x)) {
			return false
		}
		return f.obj == nil || f.obj.match(nil)
	}
}
