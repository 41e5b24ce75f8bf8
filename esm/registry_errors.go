package esm

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
)

// The error types of Lambda's event-source-mapping operations that a
// [Registry] returns, as Lambda names them (the X-Amzn-ErrorType of its REST
// API).
const (
	// ErrorResourceNotFound: no mapping has the UUID, or the function does
	// not exist. HTTP 404.
	ErrorResourceNotFound = "ResourceNotFoundException"
	// ErrorResourceConflict: a mapping of the same function and source
	// exists. HTTP 409.
	ErrorResourceConflict = "ResourceConflictException"
	// ErrorResourceInUse: the mapping is in a transitional state (Creating,
	// Enabling, Disabling, Updating, Deleting). HTTP 400.
	ErrorResourceInUse = "ResourceInUseException"
	// ErrorInvalidParameterValue: a parameter is invalid. HTTP 400.
	ErrorInvalidParameterValue = "InvalidParameterValueException"
	// ErrorValidation: a parameter breaks a constraint of the API's model
	// (an enum value, a null). HTTP 400.
	ErrorValidation = "ValidationException"
	// ErrorService: the registry could not do it (its mapping store
	// failed). HTTP 500.
	ErrorService = "ServiceException"
)

// APIError is the error of a [Registry] operation in Lambda's terms: the
// error type (one of the Error… constants), the HTTP status Lambda answers
// with, and the message, in AWS's words where AWS has them. Get it with
// errors.As. Err is the cause, when there is one (a [*ConfigError], the
// resolver's error, the store's error).
type APIError struct {
	Type       string
	Message    string
	HTTPStatus int
	Err        error
}

func (e *APIError) Error() string { return e.Type + ": " + e.Message }

// Unwrap returns the cause.
func (e *APIError) Unwrap() error { return e.Err }

func apiError(typ string, status int, err error, format string, args ...any) *APIError {
	return &APIError{Type: typ, HTTPStatus: status, Message: fmt.Sprintf(format, args...), Err: err}
}

// errNotFound is Lambda's answer for an unknown UUID.
func errNotFound() *APIError {
	return apiError(ErrorResourceNotFound, http.StatusNotFound, nil, "The resource you requested does not exist.")
}

// errFunctionNotFound is Lambda's answer for a FunctionName that names no
// function.
func errFunctionNotFound(functionARN string, cause error) *APIError {
	return apiError(ErrorResourceNotFound, http.StatusNotFound, cause, "Function not found: %s", functionARN)
}

// errConflict is Lambda's answer for a second mapping of one function and
// source. AWS words it one way for SQS and another for streams (recorded
// against AWS; LocalStack's provider reproduces both).
func errConflict(kind SourceKind, sourceARN, functionName, uuid string) *APIError {
	if kind == SQS {
		return apiError(ErrorResourceConflict, http.StatusConflict, nil,
			`An event source mapping with SQS arn (" %s ") and function (" %s ") already exists. Please update or delete the existing mapping with UUID %s`,
			sourceARN, functionName, uuid)
	}
	return apiError(ErrorResourceConflict, http.StatusConflict, nil,
		`The event source arn (" %s ") and function (" %s ") provided mapping already exists. Please update or delete the existing mapping with UUID %s`,
		sourceARN, functionName, uuid)
}

// errInUse answers an update or delete of a mapping in a transitional state.
func errInUse(op string, state State) *APIError {
	return apiError(ErrorResourceInUse, http.StatusBadRequest, nil,
		"Cannot %s the event source mapping because it is in use. (It is %s; retry when it is Enabled or Disabled.)", op, state)
}

func errInvalid(format string, args ...any) *APIError {
	return apiError(ErrorInvalidParameterValue, http.StatusBadRequest, nil, format, args...)
}

func errService(err error, format string, args ...any) *APIError {
	return apiError(ErrorService, http.StatusInternalServerError, err, format, args...)
}

// configAPIError turns a configuration error into Lambda's: a constraint of
// the API's model ("Value '0' at 'startingPosition' failed to satisfy
// constraint: …") is a ValidationException, as AWS answers it ("1 validation
// error detected: …"); anything else an InvalidParameterValueException. A
// single violation whose rule is AWS's own sentence is AWS's message as it is;
// otherwise the message lists every violation ("Field = Value: rule; …").
func configAPIError(err error) *APIError {
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Violations) == 0 {
		return apiError(ErrorInvalidParameterValue, http.StatusBadRequest, err, "%s", strings.TrimPrefix(err.Error(), "esm: "))
	}
	if len(ce.Violations) == 1 {
		rule := ce.Violations[0].Rule
		if strings.HasPrefix(rule, "Value ") && strings.Contains(rule, "failed to satisfy constraint") {
			return apiError(ErrorValidation, http.StatusBadRequest, err, "1 validation error detected: %s", rule)
		}
		if r := []rune(rule); len(r) > 0 && unicode.IsUpper(r[0]) {
			return apiError(ErrorInvalidParameterValue, http.StatusBadRequest, err, "%s", rule)
		}
	}
	parts := make([]string, len(ce.Violations))
	for i, v := range ce.Violations {
		parts[i] = v.String()
	}
	return apiError(ErrorInvalidParameterValue, http.StatusBadRequest, err, "%s", strings.Join(parts, "; "))
}

// AsAPIError returns err as Lambda would answer it: the [*APIError] err is or
// wraps; an InvalidParameterValueException or a ValidationException for a
// configuration error (a [*ConfigError], from [ParseConfig] say); a
// ServiceException for anything else. Nil for nil.
func AsAPIError(err error) *APIError {
	if err == nil {
		return nil
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		return configAPIError(err)
	}
	return errService(err, "%s", strings.TrimPrefix(err.Error(), "esm: "))
}
