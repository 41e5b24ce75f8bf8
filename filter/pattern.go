package filter

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxPatternLength is the longest pattern AWS accepts, in characters.
const MaxPatternLength = 4096

// maxBranches bounds the alternatives a pattern's $or operators (and value
// lists mixing exists:false with other values) expand to. Ours: AWS states
// no number.
const maxBranches = 1000

// Operator names.
const (
	opExactly     = "exactly"
	opPrefix      = "prefix"
	opSuffix      = "suffix"
	opIgnoreCase  = "equals-ignore-case"
	opWildcard    = "wildcard"
	opAnythingBut = "anything-but"
	opNumeric     = "numeric"
	opExists      = "exists"
	opCIDR        = "cidr"
	keyOr         = "$or"
)

// reservedInOr are the names event-ruler refuses as field names inside $or
// (its RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP).
var reservedInOr = map[string]bool{
	opExactly: true, opIgnoreCase: true, opPrefix: true, opSuffix: true,
	opAnythingBut: true, opExists: true, opWildcard: true, opNumeric: true, opCIDR: true,
	"=": true, "<": true, "<=": true, ">": true, ">=": true,
	"regex": true, "not-wildcard": true, "not-equals-ignore-case": true,
	"date-after": true, "date-on-or-after": true, "date-before": true, "date-on-or-before": true,
	"in-date-range": true, "ip-address-in-range": true, "ip-address-not-in-range": true,
}

// objPat is a parsed pattern object, its members in document order.
type objPat struct {
	members []memberPat
}

type memberPat struct {
	key  string
	or   []*objPat // "$or"
	obj  *objPat
	leaf *leafPat
}

type leafPat struct {
	pos    *leafMatcher // nil when the list holds only {"exists": false}
	absent bool         // the list holds {"exists": false}
}

// parser checks one pattern and builds its objPat, collecting every
// problem it can find.
type parser struct {
	index    int
	dataKey  string // the key that must hold an object pattern (WithSource)
	source   Source
	problems []*PatternError
}

func (p *parser) fail(path, format string, args ...any) {
	p.problems = append(p.problems, &PatternError{Index: p.index, Path: path, Reason: fmt.Sprintf(format, args...)})
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func itoa(i int) string { return strconv.Itoa(i) }

func atoi(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func quote(s string) string {
	if utf8.RuneCountInString(s) > 64 {
		s = string([]rune(s)[:61]) + "..."
	}
	return strconv.Quote(s)
}

// object parses a pattern object. top: its fields are top-level fields of
// the record; inOr: it is (inside) an alternative of $or.
func (p *parser) object(v *value, path string, top, inOr bool) *objPat {
	if len(v.obj) == 0 {
		p.fail(path, "empty objects are not allowed")
		return nil
	}
	o := &objPat{}
	for i := range v.obj {
		key, val := v.obj[i].Key, &v.obj[i].Value
		if key == keyOr {
			if alts := p.or(val, path, top); alts != nil {
				o.members = append(o.members, memberPat{key: key, or: alts})
			}
			continue
		}
		fp := join(path, key)
		if inOr && reservedInOr[key] {
			p.fail(fp, "%q is a reserved word and cannot be a field name inside $or", key)
			continue
		}
		switch val.kind {
		case kindObject:
			if sub := p.object(val, fp, false, inOr); sub != nil {
				o.members = append(o.members, memberPat{key: key, obj: sub})
			}
		case kindArray:
			if top && key == p.dataKey {
				p.fail(fp, "for %s, the pattern for %q must be a JSON object (Lambda refuses a plain-string pattern for the data key)", p.source, key)
				continue
			}
			if leaf := p.leaf(val, fp); leaf != nil {
				o.members = append(o.members, memberPat{key: key, leaf: leaf})
			}
		default:
			p.fail(fp, "the value of %q must be a list of values like [\"a\"] or an object of fields, not %s", key, describe(val))
		}
	}
	return o
}

// describe names a value in a reason: `the string "aws:sqs"`, `5`, `null`.
func describe(v *value) string {
	switch v.kind {
	case kindString:
		return "the string " + quote(v.str)
	case kindNumber:
		return "the number " + v.str
	case kindArray:
		return "an array"
	case kindObject:
		return "an object"
	}
	return v.kind.String()
}

func (p *parser) or(v *value, path string, top bool) []*objPat {
	op := join(path, keyOr)
	if v.kind != kindArray {
		p.fail(op, "$or must be an array of at least two objects, not %s", describe(v))
		return nil
	}
	if len(v.arr) < 2 {
		p.fail(op, "$or must hold at least two objects, found %d", len(v.arr))
		return nil
	}
	alts := make([]*objPat, 0, len(v.arr))
	ok := true
	for i := range v.arr {
		ap := op + "[" + itoa(i) + "]"
		e := &v.arr[i]
		if e.kind != kindObject {
			p.fail(ap, "every element of $or must be an object, not %s", describe(e))
			ok = false
			continue
		}
		if alt := p.object(e, ap, top, true); alt != nil {
			alts = append(alts, alt)
		} else {
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return alts
}

// leaf parses the list of values of a field.
func (p *parser) leaf(v *value, path string) *leafPat {
	if len(v.arr) == 0 {
		p.fail(path, "empty arrays are not allowed")
		return nil
	}
	m := &leafMatcher{}
	lp := &leafPat{}
	pos := false
	before := len(p.problems)
	for i := range v.arr {
		e := &v.arr[i]
		ep := path + "[" + itoa(i) + "]"
		switch e.kind {
		case kindString:
			if a, ok := parseIP(e.str); ok {
				m.ips = append(m.ips, ipRange{lo: a, hi: a})
			} else {
				m.exact = append(m.exact, e.str)
			}
			pos = true
		case kindNumber:
			m.lits = append(m.lits, e.str)
			if e.flags&flagNumeric != 0 {
				m.nums = append(m.nums, e.num)
			}
			pos = true
		case kindNull, kindTrue, kindFalse:
			m.lits = append(m.lits, literalOf(e.kind))
			pos = true
		case kindObject:
			switch p.operator(e, ep, m) {
			case resultPositive:
				pos = true
			case resultAbsent:
				lp.absent = true
			}
		default:
			p.fail(ep, "a value must be a string, a number, true, false, null or an operator object like {\"prefix\": \"a\"}, not an array")
		}
	}
	if len(p.problems) > before {
		return nil
	}
	if len(m.exact) > 8 {
		m.exactSet = make(map[string]struct{}, len(m.exact))
		for _, s := range m.exact {
			m.exactSet[s] = struct{}{}
		}
	}
	if pos {
		lp.pos = m
	}
	return lp
}

type opResult uint8

const (
	resultBad opResult = iota
	resultPositive
	resultAbsent
)

// operator parses an operator object such as {"prefix": "a"} into m.
func (p *parser) operator(e *value, path string, m *leafMatcher) opResult {
	if len(e.obj) == 0 {
		p.fail(path, "an empty object is not an operator; expected one of %s", operatorList)
		return resultBad
	}
	if len(e.obj) > 1 {
		p.fail(path, "an operator object holds exactly one operator, found %d keys", len(e.obj))
		return resultBad
	}
	name, arg := e.obj[0].Key, &e.obj[0].Value
	op := join(path, name)
	switch name {
	case opExactly, opIgnoreCase, opWildcard, opCIDR:
		if arg.kind != kindString {
			p.fail(op, "%s must be a string, not %s", name, describe(arg))
			return resultBad
		}
		switch name {
		case opExactly:
			m.exact = append(m.exact, arg.str)
		case opIgnoreCase:
			m.equalFold = append(m.equalFold, arg.str)
		case opWildcard:
			w, why := parseWildcard(arg.str)
			if why != "" {
				p.fail(op, "wildcard %s: %s", quote(arg.str), why)
				return resultBad
			}
			m.wild = append(m.wild, w)
		case opCIDR:
			r, why := parseCIDR(arg.str)
			if why != "" {
				p.fail(op, "%s (%s)", why, quote(arg.str))
				return resultBad
			}
			m.ips = append(m.ips, r)
		}
		return resultPositive
	case opPrefix, opSuffix:
		s, fold, ok := p.foldable(arg, op, name)
		if !ok {
			return resultBad
		}
		switch {
		case name == opPrefix && fold:
			m.prefixFold = append(m.prefixFold, s)
		case name == opPrefix:
			m.prefix = append(m.prefix, s)
		case fold:
			m.suffixFold = append(m.suffixFold, s)
		default:
			m.suffix = append(m.suffix, s)
		}
		return resultPositive
	case opAnythingBut:
		if n, ok := p.anythingBut(arg, op); ok {
			m.nots = append(m.nots, n)
			return resultPositive
		}
		return resultBad
	case opNumeric:
		if p.numeric(arg, op, m) {
			return resultPositive
		}
		return resultBad
	case opExists:
		switch arg.kind {
		case kindTrue:
			m.any = true
			return resultPositive
		case kindFalse:
			return resultAbsent
		}
		p.fail(op, "exists must be true or false, not %s", describe(arg))
		return resultBad
	}
	p.fail(path, "unknown operator %s; expected one of %s", quote(name), operatorList)
	return resultBad
}

const operatorList = "prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr, exactly"

// foldable parses the operand of prefix or suffix: a string, or
// {"equals-ignore-case": string}.
func (p *parser) foldable(arg *value, path, name string) (string, bool, bool) {
	switch arg.kind {
	case kindString:
		return arg.str, false, true
	case kindObject:
		if len(arg.obj) != 1 || arg.obj[0].Key != opIgnoreCase {
			p.fail(path, "%s takes a string or {\"equals-ignore-case\": string}", name)
			return "", false, false
		}
		if s := &arg.obj[0].Value; s.kind == kindString {
			return s.str, true, true
		}
		p.fail(join(path, opIgnoreCase), "equals-ignore-case must be a string, not %s", describe(&arg.obj[0].Value))
		return "", false, false
	}
	p.fail(path, "%s must be a string, not %s", name, describe(arg))
	return "", false, false
}

func (p *parser) number(v *value, path, what string) (float64, bool) {
	if v.kind != kindNumber {
		p.fail(path, "%s must be a number, not %s", what, describe(v))
		return 0, false
	}
	if v.flags&flagNumeric == 0 {
		p.fail(path, "%s %s is out of range: numbers must be between -5.0e9 and 5.0e9", what, v.str)
		return 0, false
	}
	return v.num, true
}

func (p *parser) anythingBut(arg *value, path string) (notMatcher, bool) {
	switch arg.kind {
	case kindString:
		return notMatcher{kind: notString, strs: []string{arg.str}}, true
	case kindNumber:
		f, ok := p.number(arg, path, "anything-but")
		return notMatcher{kind: notNumber, nums: []float64{f}}, ok
	case kindArray:
		if len(arg.arr) == 0 {
			p.fail(path, "empty arrays are not allowed")
			return notMatcher{}, false
		}
		var strs []string
		var nums []float64
		for i := range arg.arr {
			e := &arg.arr[i]
			ep := path + "[" + itoa(i) + "]"
			switch e.kind {
			case kindString:
				strs = append(strs, e.str)
			case kindNumber:
				f, ok := p.number(e, ep, "anything-but value")
				if !ok {
					return notMatcher{}, false
				}
				nums = append(nums, f)
			default:
				p.fail(ep, "an anything-but list holds only strings or only numbers, not %s", describe(e))
				return notMatcher{}, false
			}
		}
		if strs != nil && nums != nil {
			p.fail(path, "an anything-but list holds only strings or only numbers, not both")
			return notMatcher{}, false
		}
		if nums != nil {
			return notMatcher{kind: notNumber, nums: nums}, true
		}
		return notMatcher{kind: notString, strs: strs}, true
	case kindObject:
		if len(arg.obj) != 1 {
			p.fail(path, "anything-but takes one operator (prefix, suffix, equals-ignore-case or wildcard), found %d keys", len(arg.obj))
			return notMatcher{}, false
		}
		name, val := arg.obj[0].Key, &arg.obj[0].Value
		op := join(path, name)
		var kind notKind
		switch name {
		case opPrefix:
			kind = notPrefix
		case opSuffix:
			kind = notSuffix
		case opIgnoreCase:
			kind = notFold
		case opWildcard:
			kind = notWildcard
		default:
			p.fail(op, "anything-but supports prefix, suffix, equals-ignore-case and wildcard, not %s", quote(name))
			return notMatcher{}, false
		}
		var strs []string
		switch val.kind {
		case kindString:
			strs = []string{val.str}
		case kindArray:
			if len(val.arr) == 0 {
				p.fail(op, "empty arrays are not allowed")
				return notMatcher{}, false
			}
			for i := range val.arr {
				if val.arr[i].kind != kindString {
					p.fail(op+"["+itoa(i)+"]", "anything-but %s takes strings, not %s", name, describe(&val.arr[i]))
					return notMatcher{}, false
				}
				strs = append(strs, val.arr[i].str)
			}
		default:
			p.fail(op, "anything-but %s takes a string or a list of strings, not %s", name, describe(val))
			return notMatcher{}, false
		}
		n := notMatcher{kind: kind, strs: strs}
		for _, s := range strs {
			switch kind {
			case notPrefix, notSuffix:
				if s == "" {
					p.fail(op, "anything-but %s must not be empty", name)
					return notMatcher{}, false
				}
			case notWildcard:
				w, why := parseWildcard(s)
				if why != "" {
					p.fail(op, "wildcard %s: %s", quote(s), why)
					return notMatcher{}, false
				}
				n.wild = append(n.wild, w)
			}
		}
		return n, true
	}
	p.fail(path, "anything-but takes a string, a number, a list of strings or of numbers, or an object {prefix|suffix|equals-ignore-case|wildcard: …}, not %s", describe(arg))
	return notMatcher{}, false
}

// numeric parses ["=", x], [">" | ">=" | "<" | "<=", x] and
// [">" | ">=", x, "<" | "<=", y] with x < y.
func (p *parser) numeric(arg *value, path string, m *leafMatcher) bool {
	if arg.kind != kindArray {
		p.fail(path, "numeric takes an array such as [\">\", 0, \"<=\", 5], not %s", describe(arg))
		return false
	}
	a := arg.arr
	if len(a) == 0 {
		p.fail(path, "numeric needs an operator and a number")
		return false
	}
	if a[0].kind != kindString {
		p.fail(path+"[0]", "numeric must start with an operator (=, <, <=, >, >=), not %s", describe(&a[0]))
		return false
	}
	op := a[0].str
	switch op {
	case "=", "<", "<=", ">", ">=":
	default:
		p.fail(path+"[0]", "unknown numeric operator %s; expected =, <, <=, > or >=", quote(op))
		return false
	}
	if len(a) < 2 {
		p.fail(path, "numeric operator %q needs a number after it", op)
		return false
	}
	x, ok := p.number(&a[1], path+"[1]", "the value after "+strconv.Quote(op))
	if !ok {
		return false
	}
	switch op {
	case "=":
		if len(a) > 2 {
			p.fail(path, "numeric \"=\" takes one number; found %d elements", len(a))
			return false
		}
		m.nums = append(m.nums, x)
		return true
	case "<", "<=":
		if len(a) > 2 {
			p.fail(path, "an upper bound (%q) must come last: write the lower bound first, as [\">\", 0, \"<=\", 5]", op)
			return false
		}
		m.ranges = append(m.ranges, numRange{lo: -maxNumeric, hi: x, hiOpen: op == "<"})
		return true
	}
	r := numRange{lo: x, loOpen: op == ">", hi: maxNumeric}
	if len(a) == 2 {
		m.ranges = append(m.ranges, r)
		return true
	}
	if a[2].kind != kindString || (a[2].str != "<" && a[2].str != "<=") {
		p.fail(path+"[2]", "after a lower bound comes an upper bound operator (< or <=), not %s", describe(&a[2]))
		return false
	}
	if len(a) < 4 {
		p.fail(path, "numeric operator %q needs a number after it", a[2].str)
		return false
	}
	y, ok := p.number(&a[3], path+"[3]", "the value after "+strconv.Quote(a[2].str))
	if !ok {
		return false
	}
	if len(a) > 4 {
		p.fail(path, "a numeric range has at most four elements, found %d", len(a))
		return false
	}
	if !(x < y) {
		p.fail(path, "the lower bound %s must be less than the upper bound %s", a[1].str, a[3].str)
		return false
	}
	r.hi, r.hiOpen = y, a[2].str == "<"
	m.ranges = append(m.ranges, r)
	return true
}

// cond is one condition of a conjunctive pattern: on the leaf values at a
// path.
type cond struct {
	path   []string
	leaf   *leafMatcher
	absent bool
}

// conj is a conjunction of conditions, at most one per path.
type conj struct {
	conds []cond
}

func (c *conj) clone() *conj {
	return &conj{conds: append([]cond(nil), c.conds...)}
}

// put adds a condition; a later condition on the same path replaces the
// earlier one ("if you include a key more than once the last reference will
// be the one used").
func (c *conj) put(n cond) {
	for i := range c.conds {
		if samePath(c.conds[i].path, n.path) {
			c.conds[i] = n
			return
		}
	}
	c.conds = append(c.conds, n)
}

func samePath(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func extend(path []string, key string) []string {
	out := make([]string, len(path)+1)
	copy(out, path)
	out[len(path)] = key
	return out
}

// expand turns a pattern into the conjunctions it is the disjunction of,
// in document order as event-ruler does (a later field on a path overrides
// an earlier one, including inside $or alternatives). It returns nil when
// there are more than maxBranches.
func expand(o *objPat, prefix []string, cur []*conj) []*conj {
	for _, m := range o.members {
		switch {
		case m.or != nil:
			var next []*conj
			for _, c := range cur {
				for _, alt := range m.or {
					got := expand(alt, prefix, []*conj{c.clone()})
					if got == nil {
						return nil
					}
					next = append(next, got...)
					if len(next) > maxBranches {
						return nil
					}
				}
			}
			cur = next
		case m.obj != nil:
			if cur = expand(m.obj, extend(prefix, m.key), cur); cur == nil {
				return nil
			}
		case m.leaf != nil:
			path := extend(prefix, m.key)
			if m.leaf.pos != nil && m.leaf.absent {
				if 2*len(cur) > maxBranches {
					return nil
				}
				next := make([]*conj, 0, 2*len(cur))
				for _, c := range cur {
					d := c.clone()
					c.put(cond{path: path, leaf: m.leaf.pos})
					d.put(cond{path: path, absent: true})
					next = append(next, c, d)
				}
				cur = next
				continue
			}
			for _, c := range cur {
				c.put(cond{path: path, leaf: m.leaf.pos, absent: m.leaf.absent})
			}
		}
	}
	return cur
}

// tree builds the object tree of a conjunction.
func (c *conj) tree() *objNode {
	root := &objNode{}
	for _, cd := range c.conds {
		n := root
		for j, key := range cd.path {
			i := n.field(key)
			if j == len(cd.path)-1 {
				n.fields[i].leaf = cd.leaf
				n.fields[i].absent = cd.absent
				break
			}
			if n.fields[i].obj == nil {
				n.fields[i].obj = &objNode{}
			}
			n = n.fields[i].obj
		}
	}
	root.markPositive()
	return root
}

func (n *objNode) field(key string) int {
	for i := range n.fields {
		if n.fields[i].key == key {
			return i
		}
	}
	n.fields = append(n.fields, fieldNode{key: key})
	return len(n.fields) - 1
}

func (n *objNode) markPositive() bool {
	for i := range n.fields {
		f := &n.fields[i]
		f.positive = f.leaf != nil
		if f.obj != nil && f.obj.markPositive() {
			f.positive = true
		}
		if f.positive {
			n.positive = true
		}
	}
	return n.positive
}

// addNeeds records in root the keys the tree reads.
func (n *objNode) addNeeds(root *need) {
	for i := range n.fields {
		c := root.add(n.fields[i].key)
		if n.fields[i].obj != nil {
			n.fields[i].obj.addNeeds(c)
		}
	}
}

// compiled is one compiled pattern: it matches when any branch does.
type compiled struct {
	branches []*objNode
}

func (c *compiled) match(v *value) bool {
	for _, b := range c.branches {
		if b.match(v) {
			return true
		}
	}
	return false
}

// compilePattern checks and compiles one pattern.
func compilePattern(index int, text string, source Source) (*compiled, []*PatternError) {
	p := &parser{index: index, source: source, dataKey: source.dataKey()}
	switch n := utf8.RuneCountInString(text); {
	case strings.TrimSpace(text) == "":
		p.fail("", "the pattern is empty")
	case n > MaxPatternLength:
		p.fail("", "the pattern has %d characters; at most %d are allowed", n, MaxPatternLength)
	case !utf8.ValidString(text):
		p.fail("", "the pattern is not valid UTF-8")
	}
	if len(p.problems) > 0 {
		return nil, p.problems
	}
	v, err := decode([]byte(text))
	if err != nil {
		p.fail("", "the pattern is not valid JSON: %s", strings.TrimPrefix(err.Error(), "filter: invalid JSON "))
		return nil, p.problems
	}
	if v.kind != kindObject {
		p.fail("", "the pattern must be a JSON object, not %s", describe(&v))
		return nil, p.problems
	}
	o := p.object(&v, "", true, false)
	if len(p.problems) > 0 {
		return nil, p.problems
	}
	conjs := expand(o, nil, []*conj{{}})
	if conjs == nil {
		p.fail("", "the pattern is too complex: its $or operators expand to more than %d alternatives", maxBranches)
		return nil, p.problems
	}
	c := &compiled{branches: make([]*objNode, len(conjs))}
	for i, cj := range conjs {
		c.branches[i] = cj.tree()
	}
	return c, nil
}
