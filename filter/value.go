package filter

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// valueKind is the JSON type of a value.
type valueKind uint8

// The kinds of a Value. The zero Value is kindMissing: no value at all.
const (
	kindMissing valueKind = iota
	kindNull
	kindFalse
	kindTrue
	kindNumber
	kindString
	kindArray
	kindObject
)

var kindNames = [...]string{"missing", "null", "false", "true", "number", "string", "array", "object"}

// String returns the kind's name: "object", "number", …
func (k valueKind) String() string {
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

// value is a decoded JSON value, the form a record takes for matching. Build
// one with decode, valueOf, the constructors (stringValue,
// objectValue, …) or the per-source helpers (sqsMessageValue,
// kinesisRecordValue, dynamodbValue). A value is immutable and may be shared
// between goroutines.
//
// Objects may hold a key more than once; the last one counts, as with
// encoding/json.
type value struct {
	kind  valueKind
	flags uint8
	num   float64 // numbers with flagNumeric
	str   string  // strings: the text; numbers: the JSON literal
	arr   []value
	obj   []field
}

// field is one member of an object value.
type field struct {
	Key   string
	Value value
}

// kindOf returns the value's JSON type.
func (v value) kindOf() valueKind { return v.kind }

// isPayload reports whether the value is a record's data key built by
// payloadValue (an SQS body, Kinesis data or DynamoDB dynamodb), to which
// Lambda's format rules apply.
func (v value) isPayload() bool { return v.flags&flagPayload != 0 }

// nullValue returns JSON null.
func nullValue() value { return value{kind: kindNull} }

// boolValue returns JSON true or false.
func boolValue(b bool) value {
	if b {
		return value{kind: kindTrue}
	}
	return value{kind: kindFalse}
}

// stringValue returns a JSON string.
func stringValue(s string) value { return value{kind: kindString, str: s} }

// parseNumberValue returns the JSON number written as literal (e.g. "300",
// "3.0e2"). Exact matching compares literals and, within the numeric range,
// values; numeric matching compares values.
func parseNumberValue(literal string) (value, error) {
	if !validNumber(literal) {
		return value{}, fmt.Errorf("filter: %q is not a JSON number", literal)
	}
	return numberValue(literal), nil
}

// floatValue returns the JSON number f, written as encoding/json writes it.
// NaN and infinities, which JSON cannot hold, give null.
func floatValue(f float64) value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nullValue()
	}
	return numberValue(formatFloat(f))
}

// intValue returns the JSON number i.
func intValue(i int64) value { return numberValue(strconv.FormatInt(i, 10)) }

// arrayValue returns a JSON array of elems.
func arrayValue(elems ...value) value { return value{kind: kindArray, arr: elems} }

// objectValue returns a JSON object of fields, in the order given.
func objectValue(fields ...field) value { return value{kind: kindObject, obj: fields} }

// numberValue makes a number from a literal already known to be valid JSON.
func numberValue(literal string) value {
	v := value{kind: kindNumber, str: literal}
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

// valueOf converts what encoding/json produces (decoding into an any, with
// or without UseNumber) to a Value: map[string]any, []any, string,
// json.Number, float64, bool and nil, plus Go integers, float32,
// map[string]string, []string and Value itself. Map keys are taken in sorted
// order.
func valueOf(x any) (value, error) {
	switch t := x.(type) {
	case nil:
		return nullValue(), nil
	case value:
		return t, nil
	case bool:
		return boolValue(t), nil
	case string:
		return stringValue(t), nil
	case json.Number:
		return parseNumberValue(string(t))
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return value{}, fmt.Errorf("filter: %v is not a JSON number", t)
		}
		return floatValue(t), nil
	case float32:
		return valueOf(float64(t))
	case int:
		return intValue(int64(t)), nil
	case int8:
		return intValue(int64(t)), nil
	case int16:
		return intValue(int64(t)), nil
	case int32:
		return intValue(int64(t)), nil
	case int64:
		return intValue(t), nil
	case uint:
		return numberValue(strconv.FormatUint(uint64(t), 10)), nil
	case uint8:
		return intValue(int64(t)), nil
	case uint16:
		return intValue(int64(t)), nil
	case uint32:
		return intValue(int64(t)), nil
	case uint64:
		return numberValue(strconv.FormatUint(t, 10)), nil
	case []any:
		elems := make([]value, len(t))
		for i, e := range t {
			v, err := valueOf(e)
			if err != nil {
				return value{}, err
			}
			elems[i] = v
		}
		return arrayValue(elems...), nil
	case []string:
		elems := make([]value, len(t))
		for i, e := range t {
			elems[i] = stringValue(e)
		}
		return arrayValue(elems...), nil
	case map[string]any:
		fields := make([]field, 0, len(t))
		for _, k := range sortedKeys(t) {
			v, err := valueOf(t[k])
			if err != nil {
				return value{}, err
			}
			fields = append(fields, field{Key: k, Value: v})
		}
		return objectValue(fields...), nil
	case map[string]string:
		fields := make([]field, 0, len(t))
		for _, k := range sortedKeys(t) {
			fields = append(fields, field{Key: k, Value: stringValue(t[k])})
		}
		return objectValue(fields...), nil
	}
	return value{}, fmt.Errorf("filter: cannot convert %T to a Value", x)
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
func (v *value) get(key string) *value {
	if v == nil || v.kind != kindObject {
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
func (v value) MarshalJSON() ([]byte, error) {
	if v.kind == kindMissing {
		return nil, fmt.Errorf("filter: cannot marshal a missing value")
	}
	return v.appendJSON(nil), nil
}

// String returns the value as JSON, or "<missing>".
func (v value) String() string {
	if v.kind == kindMissing {
		return "<missing>"
	}
	return string(v.appendJSON(nil))
}

func (v value) appendJSON(b []byte) []byte {
	switch v.kind {
	case kindNull, kindMissing:
		return append(b, "null"...)
	case kindTrue:
		return append(b, "true"...)
	case kindFalse:
		return append(b, "false"...)
	case kindNumber:
		return append(b, v.str...)
	case kindString:
		return appendQuoted(b, v.str)
	case kindArray:
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
