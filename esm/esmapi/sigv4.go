package esmapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/encoding/httpbinding"
)

const (
	sigAlgorithm  = "AWS4-HMAC-SHA256"
	sigService    = "lambda"
	amzDateFormat = "20060102T150405Z"
	// maxSkew is how far a request's signing time may be from this
	// machine's clock.
	maxSkew = 15 * time.Minute
)

// authError is a refused request, in AWS's words.
type authError struct {
	status int
	typ    string
	msg    string
}

var (
	errMissingAuth = &authError{http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	errUnknownKey  = &authError{http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid."}
	errSignature   = &authError{http.StatusForbidden, "InvalidSignatureException",
		"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
)

func incomplete(format string, args ...any) *authError {
	return &authError{http.StatusBadRequest, "IncompleteSignatureException", fmt.Sprintf(format, args...)}
}

// sigRequest is what an Authorization header says.
type sigRequest struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

// parseAuthorization reads "AWS4-HMAC-SHA256 Credential=AKID/20240101/
// us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date,
// Signature=…".
func parseAuthorization(h string) (sigRequest, *authError) {
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || alg != sigAlgorithm {
		return sigRequest{}, incomplete("Authorization header requires the %s algorithm (Signature Version 4).", sigAlgorithm)
	}
	var sr sigRequest
	var cred, signed string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			sr.signature = v
		}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || signed == "" || sr.signature == "" {
		return sigRequest{}, incomplete("Authorization header requires 'Credential' (<key>/<date>/<region>/<service>/aws4_request), 'SignedHeaders' and 'Signature' parameters. Authorization=%s", h)
	}
	sr.accessKey, sr.date, sr.region, sr.service = scope[0], scope[1], scope[2], scope[3]
	sr.signedHeaders = strings.Split(signed, ";")
	return sr, nil
}

// verify checks r's Signature Version 4 against creds, reading (and
// restoring) its body.
func verify(ctx context.Context, r *http.Request, creds []aws.CredentialsProvider, now time.Time) *authError {
	h := r.Header.Get("Authorization")
	if h == "" {
		return errMissingAuth
	}
	sr, aerr := parseAuthorization(h)
	if aerr != nil {
		return aerr
	}
	if sr.service != sigService {
		return incomplete("Credential should be scoped to correct service: '%s'.", sigService)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=%s", h)
	}
	if !strings.HasPrefix(amzDate, sr.date) {
		return &authError{http.StatusForbidden, "InvalidSignatureException",
			fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", sr.date, amzDate[:8], amzDate)}
	}
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return &authError{http.StatusForbidden, "InvalidSignatureException",
			fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)", amzDate,
				now.Add(-maxSkew).UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat))}
	}
	var secret, token string
	found := false
	for _, p := range creds {
		c, err := p.Retrieve(ctx)
		if err == nil && c.AccessKeyID == sr.accessKey {
			secret, token, found = c.SecretAccessKey, c.SessionToken, true
			break
		}
	}
	if !found {
		return errUnknownKey
	}
	if token != "" && r.Header.Get("X-Amz-Security-Token") != token {
		return errUnknownKey
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return incomplete("The request body could not be read: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if declared := r.Header.Get("X-Amz-Content-Sha256"); declared != "" {
		if declared != "UNSIGNED-PAYLOAD" && declared != payloadHash {
			return &authError{http.StatusBadRequest, "InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed."}
		}
		payloadHash = declared
	}
	canonical := strings.Join([]string{
		r.Method,
		httpbinding.EscapePath(escapedPath(r.URL), false),
		canonicalQuery(r.URL.RawQuery),
		canonicalHeaders(r, sr.signedHeaders),
		strings.Join(sr.signedHeaders, ";"),
		payloadHash,
	}, "\n")
	crSum := sha256.Sum256([]byte(canonical))
	scope := strings.Join([]string{sr.date, sr.region, sr.service, "aws4_request"}, "/")
	toSign := strings.Join([]string{sigAlgorithm, amzDate, scope, hex.EncodeToString(crSum[:])}, "\n")
	key := hmacSHA256([]byte("AWS4"+secret), sr.date)
	key = hmacSHA256(key, sr.region)
	key = hmacSHA256(key, sr.service)
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(sr.signature)) {
		return errSignature
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func escapedPath(u *url.URL) string {
	if p := u.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// canonicalQuery sorts the query's parameters by name, then value, each
// URI-encoded as SigV4 wants (spaces as %20, '~' kept).
func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return raw
	}
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range q {
			if !yield(k) {
				return
			}
		}
	}) {
		vs := slices.Clone(q[k])
		slices.Sort(vs)
		for _, v := range vs {
			parts = append(parts, uriEncode(k)+"="+uriEncode(v))
		}
	}
	return strings.Join(parts, "&")
}

func uriEncode(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// canonicalHeaders writes the signed headers, lower-cased, each value
// trimmed with inner spaces collapsed, several values joined by commas.
func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		var vals []string
		switch name {
		case "host":
			vals = []string{r.Host}
		case "content-length":
			if v := r.Header.Values("Content-Length"); len(v) > 0 {
				vals = v
			} else {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		case "transfer-encoding":
			vals = r.TransferEncoding
		default:
			vals = r.Header.Values(name)
		}
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.Join(strings.Fields(v), " "))
		}
		b.WriteByte('\n')
	}
	return b.String()
}
