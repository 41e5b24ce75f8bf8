package filter

// A slow, obviously-correct reference for the matcher, used by the fuzz
// tests. It follows event-ruler's definition directly instead of walking
// trees: the event is flattened into leaf occurrences, each with the array
// elements it lies in; the pattern is expanded into conjunctions of path
// conditions; a conjunction matches when the positive conditions can be met
// by occurrences that agree on every array they share, and no exists:false
// path has an occurrence agreeing with them. It shares no code with the
// package: its operators use regexp, net and math/big.

import (
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// rOp is one element of a pattern's value list.
type rOp struct {
	kind string // "str", "num", "lit", "prefix", "suffix", "prefixFold", "suffixFold", "fold",
	// "wild", "exactly", "notStr", "notNum", "notPrefix", "notSuffix", "notFold", "notWild",
	// "numeric", "exists", "cidr"
	s    string
	strs []string
	nums []string // number literals
	ops  []string // numeric: operators and operand literals, alternating
	b    bool
}

// rObj is a pattern object: members in document order.
type rObj struct {
	members []rMember
}

type rMember struct {
	key  string
	or   []*rObj
	obj  *rObj
	leaf []rOp
}

func (o *rObj) json() string {
	var b strings.Builder
	b.WriteString("{")
	for i, m := range o.members {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(m.key))
		b.WriteString(": ")
		switch {
		case m.or != nil:
			b.WriteString("[")
			for j, alt := range m.or {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(alt.json())
			}
			b.WriteString("]")
		case m.obj != nil:
			b.WriteString(m.obj.json())
		default:
			b.WriteString("[")
			for j, op := range m.leaf {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(op.json())
			}
			b.WriteString("]")
		}
	}
	b.WriteString("}")
	return b.String()
}

func jq(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func jqs(ss []string) string {
	b, _ := json.Marshal(ss)
	return string(b)
}

func (op rOp) json() string {
	switch op.kind {
	case "str":
		return jq(op.s)
	case "num", "lit":
		return op.s
	case "prefix", "suffix", "wildcard", "exactly", "cidr":
		return fmt.Sprintf(`{%q: %s}`, op.kind, jq(op.s))
	case "wild":
		return fmt.Sprintf(`{"wildcard": %s}`, jq(op.s))
	case "fold":
		return fmt.Sprintf(`{"equals-ignore-case": %s}`, jq(op.s))
	case "prefixFold":
		return fmt.Sprintf(`{"prefix": {"equals-ignore-case": %s}}`, jq(op.s))
	case "suffixFold":
		return fmt.Sprintf(`{"suffix": {"equals-ignore-case": %s}}`, jq(op.s))
	case "notStr":
		if len(op.strs) == 1 && op.b {
			return fmt.Sprintf(`{"anything-but": %s}`, jq(op.strs[0]))
		}
		return fmt.Sprintf(`{"anything-but": %s}`, jqs(op.strs))
	case "notNum":
		if len(op.nums) == 1 && op.b {
			return fmt.Sprintf(`{"anything-but": %s}`, op.nums[0])
		}
		return fmt.Sprintf(`{"anything-but": [%s]}`, strings.Join(op.nums, ", "))
	case "notPrefix", "notSuffix", "notFold", "notWild":
		name := map[string]string{"notPrefix": "prefix", "notSuffix": "suffix", "notFold": "equals-ignore-case", "notWild": "wildcard"}[op.kind]
		if len(op.strs) == 1 && op.b {
			return fmt.Sprintf(`{"anything-but": {%q: %s}}`, name, jq(op.strs[0]))
		}
		return fmt.Sprintf(`{"anything-but": {%q: %s}}`, name, jqs(op.strs))
	case "numeric":
		parts := make([]string, len(op.ops))
		for i, x := range op.ops {
			if i%2 == 0 {
				parts[i] = jq(x)
			} else {
				parts[i] = x
			}
		}
		return fmt.Sprintf(`{"numeric": [%s]}`, strings.Join(parts, ", "))
	case "exists":
		return fmt.Sprintf(`{"exists": %v}`, op.b)
	}
	panic("unknown op " + op.kind)
}

// The reference semantics.

type occurrence struct {
	path []string
	val  any            // string, json.Number, bool or nil
	mem  map[string]int // array location → element index
}

// flatten lists the leaf values of an event tree.
func flatten(v any, path []string, loc string, mem map[string]int, out *[]occurrence) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			flatten(e, append(append([]string(nil), path...), k), loc+"/"+strconv.Quote(k), mem, out)
		}
	case []any:
		for i, e := range t {
			m := make(map[string]int, len(mem)+1)
			for a, j := range mem {
				m[a] = j
			}
			m[loc] = i
			flatten(e, path, loc+"/"+strconv.Itoa(i), m, out)
		}
	default:
		*out = append(*out, occurrence{path: path, val: v, mem: mem})
	}
}

type rCond struct {
	path   []string
	ops    []rOp
	absent bool
}

type rConj []rCond

func (c rConj) put(n rCond) rConj {
	out := make(rConj, 0, len(c)+1)
	replaced := false
	for _, x := range c {
		if strings.Join(x.path, "\x00") == strings.Join(n.path, "\x00") && len(x.path) == len(n.path) {
			out = append(out, n)
			replaced = true
		} else {
			out = append(out, x)
		}
	}
	if !replaced {
		out = append(out, n)
	}
	return out
}

// rExpand expands o in document order; a later condition on a path
// replaces an earlier one.
func rExpand(o *rObj, prefix []string, in []rConj) []rConj {
	cur := in
	for _, m := range o.members {
		path := append(append([]string(nil), prefix...), m.key)
		switch {
		case m.or != nil:
			var next []rConj
			for _, c := range cur {
				for _, alt := range m.or {
					next = append(next, rExpand(alt, prefix, []rConj{c})...)
				}
			}
			cur = next
		case m.obj != nil:
			cur = rExpand(m.obj, path, cur)
		default:
			var pos []rOp
			absent := false
			for _, op := range m.leaf {
				if op.kind == "exists" && !op.b {
					absent = true
				} else {
					pos = append(pos, op)
				}
			}
			var next []rConj
			for _, c := range cur {
				if pos != nil {
					next = append(next, c.put(rCond{path: path, ops: pos}))
				}
				if absent {
					next = append(next, c.put(rCond{path: path, absent: true}))
				}
			}
			cur = next
		}
	}
	return cur
}

func samePathRef(a, b []string) bool {
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

func consistent(a, b map[string]int) bool {
	for k, i := range a {
		if j, ok := b[k]; ok && i != j {
			return false
		}
	}
	return true
}

func merged(a, b map[string]int) map[string]int {
	m := make(map[string]int, len(a)+len(b))
	for k, i := range a {
		m[k] = i
	}
	for k, i := range b {
		m[k] = i
	}
	return m
}

func refMatchConj(occ []occurrence, c rConj) bool {
	var pos, abs []rCond
	for _, x := range c {
		if x.absent {
			abs = append(abs, x)
		} else {
			pos = append(pos, x)
		}
	}
	var rec func(i int, mem map[string]int) bool
	rec = func(i int, mem map[string]int) bool {
		if i == len(pos) {
			for _, a := range abs {
				for _, o := range occ {
					if samePathRef(o.path, a.path) && consistent(o.mem, mem) {
						return false
					}
				}
			}
			return true
		}
		for _, o := range occ {
			if !samePathRef(o.path, pos[i].path) || !consistent(o.mem, mem) {
				continue
			}
			for _, op := range pos[i].ops {
				if refOp(op, o.val) {
					if rec(i+1, merged(mem, o.mem)) {
						return true
					}
					break
				}
			}
		}
		return false
	}
	return rec(0, map[string]int{})
}

// refMatch reports whether the event tree matches the pattern.
func refMatch(p *rObj, event map[string]any) bool {
	var occ []occurrence
	flatten(event, nil, "", map[string]int{}, &occ)
	for _, c := range rExpand(p, nil, []rConj{nil}) {
		if refMatchConj(occ, c) {
			return true
		}
	}
	return false
}

var (
	ipv4Shape = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$`)
	ipv6Shape = regexp.MustCompile(`^[0-9a-fA-F:]*:[0-9a-fA-F:]*$`)
)

// refIP parses an address as event-ruler does, as a 4- or 16-byte integer.
func refIP(s string) (*big.Int, int, bool) {
	if !ipv4Shape.MatchString(s) && !ipv6Shape.MatchString(s) {
		return nil, 0, false
	}
	if ipv4Shape.MatchString(s) {
		for _, part := range strings.Split(s, ".") {
			if len(part) > 1 && part[0] == '0' {
				return nil, 0, false // Go refuses leading zeros; so do we
			}
		}
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, 0, false
	}
	if v4 := ip.To4(); v4 != nil {
		return new(big.Int).SetBytes(v4), 32, true
	}
	return new(big.Int).SetBytes(ip.To16()), 128, true
}

func refNum(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f < -5e9 || f > 5e9 {
		return 0, false
	}
	return f, true
}

func refWildcard(p, s string) bool {
	var re strings.Builder
	re.WriteString(`(?s)^`)
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '*':
			re.WriteString(".*")
		case '\\':
			i++
			re.WriteString(regexp.QuoteMeta(string(rs[i])))
		default:
			re.WriteString(regexp.QuoteMeta(string(rs[i])))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String()).MatchString(s)
}

func firstRunes(s string, n int) (string, bool) {
	if utf8.RuneCountInString(s) < n {
		return "", false
	}
	return string([]rune(s)[:n]), true
}

func lastRunes(s string, n int) (string, bool) {
	r := []rune(s)
	if len(r) < n {
		return "", false
	}
	return string(r[len(r)-n:]), true
}

func refOp(op rOp, v any) bool {
	s, isStr := v.(string)
	switch op.kind {
	case "exists":
		return op.b
	case "str":
		if !isStr {
			return false
		}
		if a, bits, ok := refIP(op.s); ok {
			b, bits2, ok := refIP(s)
			return ok && bits == bits2 && a.Cmp(b) == 0
		}
		return s == op.s
	case "exactly":
		return isStr && s == op.s
	case "num":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		if string(n) == op.s {
			return true
		}
		a, ok1 := refNum(json.Number(op.s))
		b, ok2 := refNum(v)
		return ok1 && ok2 && a == b
	case "lit":
		switch op.s {
		case "null":
			return v == nil
		case "true":
			return v == true
		case "false":
			return v == false
		}
	case "prefix":
		return isStr && strings.HasPrefix(s, op.s)
	case "suffix":
		return isStr && strings.HasSuffix(s, op.s)
	case "fold":
		return isStr && strings.EqualFold(s, op.s)
	case "prefixFold":
		head, ok := firstRunes(s, utf8.RuneCountInString(op.s))
		return isStr && ok && strings.EqualFold(head, op.s)
	case "suffixFold":
		tail, ok := lastRunes(s, utf8.RuneCountInString(op.s))
		return isStr && ok && strings.EqualFold(tail, op.s)
	case "wild":
		return isStr && refWildcard(op.s, s)
	case "notStr":
		if !isStr {
			return true
		}
		for _, x := range op.strs {
			if x == s {
				return false
			}
		}
		return true
	case "notNum":
		f, ok := refNum(v)
		if !ok {
			return true
		}
		for _, x := range op.nums {
			if g, _ := refNum(json.Number(x)); g == f {
				return false
			}
		}
		return true
	case "notPrefix", "notSuffix", "notFold", "notWild":
		if !isStr {
			return true
		}
		for _, x := range op.strs {
			hit := false
			switch op.kind {
			case "notPrefix":
				hit = strings.HasPrefix(s, x)
			case "notSuffix":
				hit = strings.HasSuffix(s, x)
			case "notFold":
				hit = strings.EqualFold(s, x)
			case "notWild":
				hit = refWildcard(x, s)
			}
			if hit {
				return false
			}
		}
		return true
	case "numeric":
		f, ok := refNum(v)
		if !ok {
			return false
		}
		for i := 0; i < len(op.ops); i += 2 {
			x, _ := strconv.ParseFloat(op.ops[i+1], 64)
			var holds bool
			switch op.ops[i] {
			case "=":
				holds = f == x
			case "<":
				holds = f < x
			case "<=":
				holds = f <= x
			case ">":
				holds = f > x
			case ">=":
				holds = f >= x
			}
			if !holds {
				return false
			}
		}
		return true
	case "cidr":
		if !isStr {
			return false
		}
		slash := strings.IndexByte(op.s, '/')
		lo, bits, _ := refIP(op.s[:slash])
		n, _ := strconv.Atoi(op.s[slash+1:])
		host := new(big.Int).Lsh(big.NewInt(1), uint(bits-n))
		host.Sub(host, big.NewInt(1))
		hi := new(big.Int).Or(lo, host)
		a, bits2, ok := refIP(s)
		return ok && bits2 == bits && a.Cmp(lo) >= 0 && a.Cmp(hi) <= 0
	}
	panic("unknown op " + op.kind)
}

// A generator of random patterns and events over a small vocabulary, so
// that they meet often.

type gen struct {
	r *rand.Rand
}

var (
	genKeys    = []string{"a", "b", "c"}
	genStrings = []string{"", "x", "X", "xy", "xY", "yx", "a*b", `a\b`, "é", "É", "10.0.0.1", "10.0.0.200", "10.0.1.1", "::1", "2001:db8::1", "2001:DB8:0:0:0:0:0:1", "300"}
	genNums    = []string{"0", "1", "-1", "2.5", "300", "3e2", "300.0", "5e9", "5000000001", "123456789012", "-0"}
)

func (g *gen) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g *gen) pickSome(list []string) []string {
	n := 1 + g.r.IntN(2)
	out := make([]string, n)
	for i := range out {
		out[i] = g.pick(list)
	}
	return out
}

var (
	genPrefixes  = []string{"x", "X", "xy", "é", "10.", "a"}
	genWildcards = []string{"*", "x*", "*y", "x*y", "*x*", `a\*b`, `a\\b`, "y*x*", "é*"}
	genCIDRs     = []string{"10.0.0.0/24", "10.0.0.0/8", "10.0.0.100/25", "0.0.0.0/0", "::/0", "2001:db8::/32", "::1/127"}
	genInRange   = []string{"0", "1", "-1", "2.5", "300", "3e2", "5e9", "-5e9"}
)

func (g *gen) op() rOp {
	switch g.r.IntN(20) {
	case 0, 1, 2:
		return rOp{kind: "str", s: g.pick(genStrings)}
	case 3, 4:
		return rOp{kind: "num", s: g.pick(genNums)}
	case 5:
		return rOp{kind: "lit", s: g.pick([]string{"null", "true", "false"})}
	case 6:
		return rOp{kind: g.pick([]string{"prefix", "suffix", "prefixFold", "suffixFold"}), s: g.pick(genPrefixes)}
	case 7:
		return rOp{kind: "fold", s: g.pick(genStrings)}
	case 8:
		return rOp{kind: "wild", s: g.pick(genWildcards)}
	case 9:
		return rOp{kind: "exactly", s: g.pick(genStrings)}
	case 10:
		return rOp{kind: "notStr", strs: g.pickSome(genStrings), b: g.r.IntN(2) == 0}
	case 11:
		return rOp{kind: "notNum", nums: g.pickSome(genInRange), b: g.r.IntN(2) == 0}
	case 12:
		kind := g.pick([]string{"notPrefix", "notSuffix", "notFold", "notWild"})
		list := genPrefixes
		if kind == "notWild" {
			list = genWildcards
		}
		return rOp{kind: kind, strs: g.pickSome(list), b: g.r.IntN(2) == 0}
	case 13, 14:
		a, b := g.pick(genInRange), g.pick(genInRange)
		fa, _ := strconv.ParseFloat(a, 64)
		fb, _ := strconv.ParseFloat(b, 64)
		if fa < fb && g.r.IntN(2) == 0 {
			return rOp{kind: "numeric", ops: []string{g.pick([]string{">", ">="}), a, g.pick([]string{"<", "<="}), b}}
		}
		return rOp{kind: "numeric", ops: []string{g.pick([]string{"=", "<", "<=", ">", ">="}), a}}
	case 15, 16:
		return rOp{kind: "exists", b: g.r.IntN(2) == 0}
	case 17:
		return rOp{kind: "cidr", s: g.pick(genCIDRs)}
	default:
		return rOp{kind: "str", s: g.pick(genStrings)}
	}
}

func (g *gen) pattern(depth int) *rObj {
	o := &rObj{}
	n := 1 + g.r.IntN(3)
	for i := 0; i < n; i++ {
		switch c := g.r.IntN(10); {
		case c == 0 && depth < 2:
			alts := make([]*rObj, 2+g.r.IntN(2))
			for j := range alts {
				alts[j] = g.pattern(depth + 1)
			}
			o.members = append(o.members, rMember{key: "$or", or: alts})
		case c < 4 && depth < 3:
			o.members = append(o.members, rMember{key: g.pick(genKeys), obj: g.pattern(depth + 1)})
		default:
			ops := make([]rOp, 1+g.r.IntN(3))
			for j := range ops {
				ops[j] = g.op()
			}
			o.members = append(o.members, rMember{key: g.pick(genKeys), leaf: ops})
		}
	}
	return o
}

func (g *gen) scalar() any {
	switch g.r.IntN(6) {
	case 0, 1, 2:
		return g.pick(genStrings)
	case 3, 4:
		return json.Number(g.pick(genNums))
	default:
		return []any{nil, true, false}[g.r.IntN(3)]
	}
}

func (g *gen) value(depth int) any {
	switch c := g.r.IntN(10); {
	case c < 2 && depth < 4:
		return g.object(depth + 1)
	case c < 4 && depth < 4:
		arr := make([]any, g.r.IntN(4))
		for i := range arr {
			arr[i] = g.value(depth + 1)
		}
		return arr
	default:
		return g.scalar()
	}
}

func (g *gen) object(depth int) map[string]any {
	m := map[string]any{}
	for i, n := 0, g.r.IntN(4); i < n; i++ {
		m[g.pick(genKeys)] = g.value(depth)
	}
	return m
}

// sortedJSON marshals an event; encoding/json keeps json.Number literals.
func sortedJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
