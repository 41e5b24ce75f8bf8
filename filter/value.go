package filter

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// Kind is the JSON type of a [Value].
type Kind uint8

// The kinds of a Value. The zero Value is KindMissing: no value at all.
const (
	KindMissing Kind = iota
	KindNull
	KindFalse
	KindTrue
	KindNumber
	KindString
	KindArray
	KindObject
)

var kindNames = [...]string{"missing", "null", "false", "true", "number", "string", "array", "object"}

// String returns the kind's name: "object", "number", …
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Value flags.
const (
	// flagNumeric: a number that numeric matching accepts (finite, within
	// ±maxNumeric); num holds it.
	flagNumeric uint8 = 1 << iota
	// flagPayload: the data key of a record (SQS body, Kinesis data,
	// DynamoDB dynamodb), subject to Lambda's format rules.
	flagPayload
)

// Value is a decoded JSON value, the form a record takes for matching. Build
// one with [Decode], [ValueOf], the constructors ([StringValue],
// [ObjectValue], …) or the per-source helpers ([SQSMessage],
// [KinesisRecord], [DynamoDBRecord]). A Value is immutable and may be shared
// between goroutines.
//
// Objects may hold a key more than once; the last one counts, as with
// encoding/json.
type Value struct {
	kind  Kind
	flags uint8
	num   float64 // numbers with flagNumeric
	str   string  // strings: the text; numbers: the JSON literal
	arr   []Value
	obj   []Field
}

// Field is one member of an object [Value].
type Field struct {
	Key   string
	Value Value
}

// Kind returns the value's JSON type.
func (v Value) Kind() Kind { return v.kind }

// IsPayload reports whether the value is a record's data key built by
// [Payload] (an SQS body, Kinesis data or DynamoDB dynamodb), to which
// Lambda's format rules apply.
func (v Value) IsPayload() bool { return v.flags&flagPayload != 0 }

// NullValue returns JSON null.
func NullValue() Value { return Value{kind: KindNull} }

// BoolValue returns JSON true or false.
func BoolValue(b bool) Value {
	if b {
		return Value{kind: KindTrue}
	}
	return Value{kind: KindFalse}
}

// StringValue returns a JSON string.
func StringValue(s string) Value { return Value{kind: KindString, str: s} }

// NumberValue returns the JSON number written as literal (e.g. "300",
// "3.0e2"). Exact matching compares literals and, within the numeric range,
// values; numeric matching compares values.
func NumberValue(literal string) (Value, error) {
	if !validNumber(literal) {
		return Value{}, fmt.Errorf("filter: %q is not a JSON number", literal)
	}
	return numberValue(literal), nil
}

// FloatValue returns the JSON number f, written as encoding/json writes it.
// NaN and infinities, which JSON cannot hold, give null.
func FloatValue(f float64) Value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return NullValue()
	}
	return numberValue(formatFloat(f))
}

// IntValue returns the JSON number i.
func IntValue(i int64) Value { return numberValue(strconv.FormatInt(i, 10)) }

// ArrayValue returns a JSON array of elems.
func ArrayValue(elems ...Value) Value { return Value{kind: KindArray, arr: elems} }

// ObjectValue returns a JSON object of fields, in the order given.
func ObjectValue(fields ...Field) Value { return Value{kind: KindObject, obj: fields} }

// numberValue makes a number from a literal already known to be valid JSON.
func numberValue(literal string) Value {
	v := Value{kind: KindNumber, str: literal}
	if f, err := strconv.ParseFloat(literal, 64); err == nil && f >= -maxNumeric && f <= maxNumeric {
		v.num = f
		v.flags |= flagNumeric
	}
	return v
}

// formatFloat writes f as encoding/json does.
func formatFloat(f float64) string {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.FormatFloat(f, format, -1, 64)
}

// ValueOf converts what encoding/json produces (decoding into an any, with
// or without UseNumber) to a Value: map[string]any, []any, string,
// json.Number, float64, bool and nil, plus Go integers, float32,
// map[string]string, []string and Value itself. Map keys are taken in sorted
// order.
func ValueOf(x any) (Value, error) {
	switch t := x.(type) {
	case nil:
		return NullValue(), nil
	case Value:
		return t, nil
	case bool:
		return BoolValue(t), nil
	case string:
		return StringValue(t), nil
	case json.Number:
		return NumberValue(string(t))
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return Value{}, fmt.Errorf("filter: %v is not a JSON number", t)
		}
		return FloatValue(t), nil
	case float32:
		return ValueOf(float64(t))
	case int:
		return IntValue(int64(t)), nil
	case int8:
		return IntValue(int64(t)), nil
	case int16:
		return IntValue(int64(t)), nil
	case int32:
		return IntValue(int64(t)), nil
	case int64:
		return IntValue(t), nil
	case uint:
		return numberValue(strconv.FormatUint(uint64(t), 10)), nil
	case uint8:
		return IntValue(int64(t)), nil
	case uint16:
		return IntValue(int64(t)), nil
	case uint32:
		return IntValue(int64(t)), nil
	case uint64:
		return numberValue(strconv.FormatUint(t, 10)), nil
	case []any:
		elems := make([]Value, len(t))
		for i, e := range t {
			v, err := ValueOf(e)
			if err != nil {
				return Value{}, err
			}
			elems[i] = v
		}
		return ArrayValue(elems...), nil
	case []string:
		elems := make([]Value, len(t))
		for i, e := range t {
			elems[i] = StringValue(e)
		}
		return ArrayValue(elems...), nil
	case map[string]any:
		fields := make([]Field, 0, len(t))
		for _, k := range sortedKeys(t) {
			v, err := ValueOf(t[k])
			if err != nil {
				return Value{}, err
			}
			fields = append(fields, Field{Key: k, Value: v})
		}
		return ObjectValue(fields...), nil
	case map[string]string:
		fields := make([]Field, 0, len(t))
		for _, k := range sortedKeys(t) {
			fields = append(fields, Field{Key: k, Value: StringValue(t[k])})
		}
		return ObjectValue(fields...), nil
	}
	return Value{}, fmt.Errorf("filter: cannot convert %T to a Value", x)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// get returns the value of key in an object (the last one when the key
// repeats), or nil.
func (v *Value) get(key string) *Value {
	if v == nil || v.kind != KindObject {
		return nil
	}
	for i := len(v.obj) - 1; i >= 0; i-- {
		if v.obj[i].Key == key {
			return &v.obj[i].Value
		}
	}
	return nil
}

// MarshalJSON writes the value as JSON; numbers keep their literal, and
// repeated object keys are all written.
func (v Value) MarshalJSON() ([]byte, error) {
	if v.kind == KindMissing {
		return nil, fmt.Errorf("filter: cannot marshal a missing value")
	}
	return v.appendJSON(nil), nil
}

// String returns the value as JSON, or "<missing>".
func (v Value) String() string {
	if v.kind == KindMissing {
		return "<missing>"
	}
	return string(v.appendJSON(nil))
}

func (v Value) appendJSON(b []byte) []byte {
	switch v.kind {
	case KindNull, KindMissing:
		return append(b, "null"...)
	case KindTrue:
		return append(b, "true"...)
	case KindFalse:
		return append(b, "false"...)
	case KindNumber:
		return append(b, v.str...)
	case KindString:
		return appendQuoted(b, v.str)
	case KindArray:
		b = append(b, '[')
		for i, e := range v.arr {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendJSON(b)
		}
		return append(b, ']')
	default:
		b = append(b, '{')
		for i, f := range v.obj {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendQuoted(b, f.Key)
			b = append(b, ':')
			b = f.Value.appendJSON(b)
		}
		return append(b, '}')
	}
}

func appendQuoted(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
