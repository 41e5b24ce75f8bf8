// Package filter implements the event filtering of Lambda event source
// mappings (FilterCriteria): Amazon EventBridge's event pattern language,
// checked as Lambda checks it and matched against Kinesis, DynamoDB Streams
// and SQS records as Lambda matches them.
//
//	f, err := filter.Compile(cfg.FilterPatterns(), filter.WithSource(filter.SourceSQS))
//	…
//	if f.MatchSQSMessage(msg) { /* hand the message to the function */ }
//
// [Compile] checks every pattern once. [Filter.MatchSQSMessage],
// [Filter.MatchKinesisRecord] and [Filter.MatchDynamoDBRecord] match an
// aws-lambda-go record, building only the fields the patterns name and
// decoding only the parts of the body or data they read (about 2 µs for a
// 900-byte JSON body). [Filter.MatchJSON] takes any event as JSON (an
// EventBridge event, say) and decodes only what the patterns read. A Filter is
// immutable and safe for concurrent use; a nil Filter, or one without
// patterns, matches every record.
//
// # Semantics
//
// A pattern is a JSON object with the structure of the records it matches.
// Its leaves are lists of values; a record matches when it has, for every
// field of the pattern, a value that one element of the list matches: fields
// are AND'ed, list elements OR'ed, and the patterns of a Filter OR'ed. A
// field the pattern does not name is ignored; a field it names must be in
// the record (except for exists:false). When a key repeats, the last one
// counts.
//
//	{"Name": ["Alice"]}                            equals ("Name" is the string "Alice")
//	{"UserID": [null]}, {"LastName": [""]}         null, empty string
//	{"Price": [300]}                               a number: 300, 300.0 and 3e2 are equal
//	{"Region": [{"prefix": "us-"}]}                begins with
//	{"FileName": [{"suffix": ".png"}]}             ends with
//	{"Name": [{"equals-ignore-case": "alice"}]}    equals, ignoring case (also inside prefix and suffix:
//	                                               {"prefix": {"equals-ignore-case": "eventb"}})
//	{"Path": [{"wildcard": "dir/*.png"}]}          '*' matches any run of characters; "\*" and "\\" escape
//	{"Weather": [{"anything-but": "Raining"}]}     not: a string, a number, a list of strings or of numbers,
//	                                               or {"prefix"|"suffix"|"equals-ignore-case"|"wildcard": …}
//	{"Price": [{"numeric": [">", 10, "<=", 20]}]}  numeric comparison: "=", "<", "<=", ">", ">=", or a
//	                                               lower bound then an upper bound
//	{"ProductName": [{"exists": true}]}            present (false: absent)
//	{"ip": [{"cidr": "10.0.0.0/24"}]}              IPv4 or IPv6 address in a range
//	{"$or": [{"a": ["x"]}, {"b": ["y"]}]}          one of two or more sub-patterns
//	{"a": [{"exactly": "x"}]}                      event-ruler's exact-string operator
//
// Values are compared as JSON values: a string never equals a number, true,
// false or null, and string operators (prefix, suffix, equals-ignore-case,
// wildcard, cidr) match strings only. Strings compare byte for byte, without
// normalization. Numbers in a value list match by literal or by value; numeric
// matching (and numbers in anything-but) work on JSON numbers between
// -5.0e9 and +5.0e9, as EventBridge documents. An anything-but never excludes
// a value of another type: {"anything-but": "x"} matches 5 and null, and
// {"anything-but": [100]} matches "100". No operator matches a missing field,
// except exists:false.
//
// Exists works on leaf values only: a field whose value is an object does
// not exist for {"exists": true} and is absent for {"exists": false}. That is
// why a DynamoDB pattern names the attribute type: {"dynamodb": {"NewImage":
// {"id": {"S": [{"exists": true}]}}}}.
//
// Arrays in records are transparent: a field matches when one element
// matches, at any depth, and an object pattern looks into arrays of objects.
// Matching is array-consistent, as in event-ruler's rulesForJSONEvent: the
// conditions that reach into the same array must be met by one element of
// it ({"employees": {"first": ["Anna"], "last": ["Jones"]}} needs Anna Jones
// in one element). An exists:false condition holds when no element the other
// conditions chose has the field, and in every element of an array no other
// condition reaches into.
//
// # Records
//
// Lambda filters the record as its function will see it, with the data key
// decoded. An SQS message is matched as the whole record, with body decoded when it is
// a JSON object or array. A DynamoDB record is matched whole; Keys,
// NewImage and OldImage are in DynamoDB JSON, where numbers are strings
// ({"N": "101"}: numeric patterns do not match them). A Kinesis record is
// matched as the fields of the record's "kinesis" object, with data base64-decoded and
// decoded as JSON when it is JSON.
//
// Lambda's format rules for the data key apply: a pattern that
// gives the data key an object (like {"body": {"k": ["v"]}}) never matches a
// plain-string body or non-JSON Kinesis data, and a list of values for it
// (like {"body": ["v"]}) never matches a JSON body; such records are dropped,
// even when the pattern asks only for exists:false. A pattern without the data
// key filters on the other fields only. For Kinesis and DynamoDB Streams
// Lambda refuses, when the mapping is created, a data pattern that is not an
// object; Compile does so given [WithSource].
//
// # Validation
//
// Compile refuses what EventBridge's engine refuses, each problem a
// [*PatternError] with AWS's message, "Invalid filter pattern definition.",
// and a reason of this package's own (AWS gives none), all gathered in an
// [*Error]: a pattern that is empty, longer than 4,096 characters, not JSON,
// or not an object; an empty object or an empty array; a field whose value
// is neither an object nor a list ({"eventSource": "aws:sqs"}); a list
// element that is an array; an unknown operator, an operator object with
// more than one key, an operand of the wrong type; an anything-but list
// mixing strings and numbers or holding null or booleans; an empty
// anything-but prefix or suffix; a numeric expression with an unknown
// operator, a missing or non-numeric value, an upper bound before a lower
// bound, a lower bound not below the upper bound, or a value out of range; a
// wildcard with two '*' in a row or an escape other than "\*" and "\\"; a
// cidr that is not an address, '/' and a prefix length (IPv4 below 32, IPv6
// below 128, as in event-ruler); $or that is not an array of at least two
// objects, or whose objects use an operator's name or another reserved word
// as a field name; more patterns than allowed (5, or WithMaxFilters up
// to 10, as with a quota increase).
//
// # Operators beyond Lambda's list
//
// Lambda's guide says its syntax is EventBridge's but lists only null,
// empty, equals, and, or (a list of values), not (anything-but with a list),
// numeric equals, numeric range, exists, does not exist and begins with
// (prefix). This package accepts the rest of EventBridge's language too:
// suffix; equals-ignore-case, alone and inside prefix and suffix; wildcard;
// anything-but with a single string or number and with prefix, suffix,
// equals-ignore-case or wildcard; numeric with a single comparison; cidr and
// exact IP addresses (which match any spelling of the address); $or; and
// event-ruler's "exactly". Which of these Lambda accepts today could not be
// confirmed from AWS's text; EventBridge Pipes, whose filtering Lambda's
// mirrors, marks the anything-but prefix, suffix, equals-ignore-case and
// wildcard forms unsupported.
//
// # Differences from AWS
//
//   - Lambda's guide says 300, 300.0 and 3.0e2 are not equal in a list of
//     values; EventBridge's engine matches them by value, and so does this
//     package. Numbers compare as float64. EventBridge compares with six digits after
//     the decimal point (recent event-ruler versions treat a number with more
//     decimals as non-numeric, older ones truncate it), and recent
//     event-ruler versions take numeric operands up to ±5.0e11.
//   - exists:false next to other conditions in arrays: event-ruler checks it
//     against the conditions on keys sorted before it, so its answer can
//     depend on the key names; here it is checked against all of them.
//   - event-ruler joins keys with '.', so {"a.b": ["x"]} also matches
//     {"a": {"b": "x"}}; here it does not.
//   - The alternatives a pattern expands to ($or, and value lists mixing
//     exists:false with other values) are limited to 1,000; AWS states no
//     limit. Empty lists inside anything-but operators, which event-ruler
//     accepts, are refused as empty arrays.
//   - equals-ignore-case uses Unicode simple case folding (strings.EqualFold).
//     Addresses are parsed by net/netip: an IPv4 address with leading zeros
//     is not an address. Strings are not checked for valid UTF-8.
//   - Which keys Lambda matches: its current guide says Kinesis, DynamoDB
//     and SQS mappings filter only on data, dynamodb and body, while its 2022
//     guide filters Kinesis on partitionKey and AWS was recorded filtering
//     DynamoDB on eventName. This package matches the record as described
//     under Records; the Kinesis envelope (eventSource, eventID, …), added
//     after filtering as EventBridge Pipes documents, is not matched.
//   - An SQS body or Kinesis data counts as JSON when it is a JSON object or
//     array; other JSON texts (123, "x", true) are plain strings.
//
// # Testing
//
// Operators are tested on EventBridge's and event-ruler's examples, sources
// on the Lambda guide's examples and on the cases LocalStack recorded
// against AWS. The matcher is fuzzed against a brute-force reference of
// event-ruler's definition (flattened leaves, expanded $or, array-consistent
// choices), the parser for panics and reasons, and the decoder against
// encoding/json. The matching of records that decodes only what the patterns
// read is tested against decoding everything, on JSON written with repeated
// and escaped keys, numbers in every spelling and one-edit mutations, and
// must not allocate. BenchmarkCityLots runs event-ruler's benchmark rules,
// five per type, on events shaped like its citylots data, decoding
// included; BenchmarkRecord filters 1 KB Kinesis records as a mapping
// does.
//
// # Cost
//
// Every record whose data or body a pattern reads is checked as JSON to its
// end (a payload that is not JSON matches no pattern on it, so a match
// needs the whole text), at about 600 MB/s on token-dense JSON on one core
// of a small VM: some 1.5 µs per 1 KB record. Through aws-sdk-go-v2, whose
// GetRecords decoding costs a Kinesis mapping about 18 µs of CPU per 1 KB
// record, a pattern on data that every record matches adds 7-9 % to the
// mapping's CPU per record (esm's BenchmarkPeerKinesisCPU, filter/esm, on
// kinesis-local). Over esm's in-memory fake, which hands records over
// without wire decoding, the same filter makes a mapping 3-4 times as
// costly per record (BenchmarkKinesisFilter): the figure to watch when the
// scanner changes. Patterns only on metadata (partitionKey, eventName,
// attributes) never read the payload.
package filter
