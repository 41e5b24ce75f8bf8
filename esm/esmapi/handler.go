package esmapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambdaesm/lambdaesm/esm"
	"github.com/lambdaesm/lambdaesm/internal/uuid"
)

// maxBody bounds a request body (Lambda's requests are far smaller).
const maxBody = 1 << 20

// Option configures [NewHandler].
type Option func(*options)

type options struct {
	credentials     []aws.CredentialsProvider
	unauthenticated bool
	logger          *slog.Logger
	now             func() time.Time
}

// WithCredentials names the credentials whose Signature Version 4
// signatures the handler accepts: each provider is asked at every request
// (cache them, as aws.Config.Credentials does) and a request signed with
// its access key ID must be signed with its secret (and session token).
func WithCredentials(ps ...aws.CredentialsProvider) Option {
	return func(o *options) { o.credentials = append(o.credentials, ps...) }
}

// WithUnauthenticated accepts requests whatever their signature, from
// loopback addresses only. Credentials are then ignored.
func WithUnauthenticated() Option { return func(o *options) { o.unauthenticated = true } }

// WithLogger sets the logger that receives a line per request that failed.
// Default: none.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the clock signatures are checked against; default
// time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// handler serves the API.
type handler struct {
	reg  *esm.Registry
	opts options
	log  *slog.Logger
	mux  *http.ServeMux
}

// NewHandler returns the HTTP handler of Lambda's event-source-mapping API
// over reg (see the package documentation). It needs WithCredentials, or
// WithUnauthenticated.
func NewHandler(reg *esm.Registry, opt ...Option) (http.Handler, error) {
	if reg == nil {
		return nil, errors.New("esmapi: the registry is nil")
	}
	var opts options
	for _, o := range opt {
		if o == nil {
			return nil, errors.New("esmapi: a nil Option")
		}
		o(&opts)
	}
	if len(opts.credentials) == 0 && !opts.unauthenticated {
		return nil, errors.New("esmapi: no credentials to verify signatures with (WithCredentials); WithUnauthenticated accepts any request from loopback addresses")
	}
	for i, c := range opts.credentials {
		if c == nil {
			return nil, fmt.Errorf("esmapi: WithCredentials: provider %d is nil", i+1)
		}
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	h := &handler{reg: reg, opts: opts, log: opts.logger, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	const root = "/2015-03-31/event-source-mappings"
	for _, p := range []string{root, root + "/{$}"} { // the AWS CLI writes the trailing slash
		h.mux.HandleFunc("POST "+p, h.create)
		h.mux.HandleFunc("GET "+p, h.list)
	}
	h.mux.HandleFunc("GET "+root+"/{UUID}", h.get)
	h.mux.HandleFunc("PUT "+root+"/{UUID}", h.update)
	h.mux.HandleFunc("DELETE "+root+"/{UUID}", h.delete)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, &esm.APIError{Type: "UnknownOperationException", HTTPStatus: http.StatusNotFound,
			Message: fmt.Sprintf("lambdaesm serves Lambda's event-source-mapping operations only, not %s %s.", r.Method, r.URL.Path)})
	})
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-RequestId", uuid.New())
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if h.opts.unauthenticated {
		if !fromLoopback(r) {
			h.fail(w, r, &esm.APIError{Type: "AccessDeniedException", HTTPStatus: http.StatusForbidden,
				Message: "This lambdaesm server accepts unauthenticated requests from this machine only."})
			return
		}
	} else if err := verify(r.Context(), r, h.opts.credentials, h.opts.now()); err != nil {
		h.fail(w, r, &esm.APIError{Type: err.typ, HTTPStatus: err.status, Message: err.msg})
		return
	}
	h.mux.ServeHTTP(w, r)
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (h *handler) body(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		h.fail(w, r, &esm.APIError{Type: esm.ErrorInvalidParameterValue, HTTPStatus: http.StatusBadRequest,
			Message: "The request body could not be read: " + err.Error()})
		return nil, false
	}
	return b, true
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	body, ok := h.body(w, r)
	if !ok {
		return
	}
	cfg, err := esm.ParseConfig(body)
	if err != nil {
		var ce *esm.ConfigError
		if !errors.As(err, &ce) {
			err = &esm.APIError{Type: esm.ErrorInvalidParameterValue, HTTPStatus: http.StatusBadRequest,
				Message: "Could not parse request body into json: " + strings.TrimPrefix(err.Error(), "esm: ")}
		}
		h.fail(w, r, esm.AsAPIError(err))
		return
	}
	info, err := h.reg.Create(r.Context(), cfg)
	if err != nil {
		h.fail(w, r, esm.AsAPIError(err))
		return
	}
	h.reply(w, http.StatusAccepted, render(info))
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	info, err := h.reg.Get(r.PathValue("UUID"))
	if err != nil {
		h.fail(w, r, esm.AsAPIError(err))
		return
	}
	h.reply(w, http.StatusOK, render(info))
}

func (h *handler) update(w http.ResponseWriter, r *http.Request) {
	body, ok := h.body(w, r)
	if !ok {
		return
	}
	info, err := h.reg.Update(r.Context(), r.PathValue("UUID"), func(c *esm.Config) (err error) {
		*c, err = esm.ApplyUpdateJSON(*c, body)
		return err
	})
	if err != nil {
		h.fail(w, r, esm.AsAPIError(err))
		return
	}
	h.reply(w, http.StatusAccepted, render(info))
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request) {
	info, err := h.reg.Delete(r.Context(), r.PathValue("UUID"))
	if err != nil {
		h.fail(w, r, esm.AsAPIError(err))
		return
	}
	h.reply(w, http.StatusAccepted, render(info))
}

// listJSON is ListEventSourceMappings' answer.
type listJSON struct {
	EventSourceMappings []mappingJSON `json:"EventSourceMappings"`
	NextMarker          string        `json:"NextMarker,omitempty"`
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	maxItems := 100
	if s := q.Get("MaxItems"); s != "" {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil:
			h.fail(w, r, validation("Value '%s' at 'maxItems' failed to satisfy constraint: Member must be an integer", s))
			return
		case n < 1:
			h.fail(w, r, validation("Value '%d' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1", n))
			return
		case n > 10000:
			h.fail(w, r, validation("Value '%d' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 10000", n))
			return
		}
		maxItems = n
	}
	all := h.reg.List(esm.ListFilter{EventSourceArn: q.Get("EventSourceArn"), FunctionName: q.Get("FunctionName")})
	start := 0
	if m := q.Get("Marker"); m != "" {
		after, ok := decodeMarker(m)
		if !ok {
			h.fail(w, r, &esm.APIError{Type: esm.ErrorInvalidParameterValue, HTTPStatus: http.StatusBadRequest, Message: "Invalid Marker: " + m})
			return
		}
		start = len(all)
		for i, info := range all { // the first mapping after the marker's, in list order
			if laterThan(info, after) {
				start = i
				break
			}
		}
	}
	out := listJSON{EventSourceMappings: []mappingJSON{}}
	end := min(start+maxItems, len(all))
	for _, info := range all[start:end] {
		out.EventSourceMappings = append(out.EventSourceMappings, render(info))
	}
	if end < len(all) {
		out.NextMarker = encodeMarker(all[end-1])
	}
	h.reply(w, http.StatusOK, out)
}

// A marker names the last mapping of a page by creation time and UUID, the
// list's order, so that a page ends right even when mappings come and go.
type marker struct {
	created time.Time
	uuid    string
}

func encodeMarker(info esm.MappingInfo) string {
	created := info.Created
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(created.UnixNano(), 10) + "|" + info.UUID))
}

func decodeMarker(s string) (marker, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return marker{}, false
	}
	ns, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil {
		return marker{}, false
	}
	return marker{created: time.Unix(0, n), uuid: id}, true
}

func laterThan(info esm.MappingInfo, m marker) bool {
	if c := info.Created.Compare(m.created); c != 0 {
		return c > 0
	}
	return info.UUID > m.uuid
}

func validation(format string, args ...any) *esm.APIError {
	return &esm.APIError{Type: esm.ErrorValidation, HTTPStatus: http.StatusBadRequest,
		Message: "1 validation error detected: " + fmt.Sprintf(format, args...)}
}

func (h *handler) reply(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"Type":"Service","message":"the answer could not be written"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorJSON is the body of Lambda's errors.
type errorJSON struct {
	Type    string `json:"Type,omitempty"`
	Message string `json:"message"`
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, e *esm.APIError) {
	status := e.HTTPStatus
	if status == 0 {
		status = http.StatusBadRequest
	}
	body := errorJSON{Message: e.Message}
	switch {
	case e.Type == esm.ErrorValidation:
	case status >= 500:
		body.Type = "Service"
	default:
		body.Type = "User"
	}
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	h.log.Info("request refused", "method", r.Method, "path", r.URL.Path, "status", status, "type", e.Type, "message", e.Message)
	h.reply(w, status, body)
}
