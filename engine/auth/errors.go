package auth

import "github.com/switchboard-chat/switchboard/protocol"

// Reasons a token is refused: the values of Error.Reason. They are stable,
// short and safe to use as a metric label.
const (
	ReasonMissing       = "missing"        // no token in the request
	ReasonMalformed     = "malformed"      // not a well-formed JWT, or a claim of the wrong shape
	ReasonBadSignature  = "bad_signature"  // signature does not match the key
	ReasonExpired       = "expired"        // exp is past (beyond the leeway)
	ReasonNotYetValid   = "not_yet_valid"  // nbf or iat is in the future (beyond the leeway)
	ReasonWrongIssuer   = "wrong_issuer"   // iss missing or not Config.Issuer
	ReasonWrongAudience = "wrong_audience" // aud missing or without Config.Audience
	ReasonNoSubject     = "no_subject"     // sub missing, empty, too long or with control characters
	ReasonBadAlgorithm  = "bad_algorithm"  // alg is not the one the key allows ("none" included)
	ReasonNoExpiry      = "no_expiry"      // no exp, and Config.AllowNoExpiry is false
)

// Error is a refused token. Verify returns shared values: compare Reason,
// and do not modify them. The message never includes token content.
type Error struct {
	Reason string // one of the Reason constants
}

// Error implements error.
func (e *Error) Error() string { return "auth: token refused: " + e.Reason }

var (
	errMissing       = &Error{ReasonMissing}
	errMalformed     = &Error{ReasonMalformed}
	errBadSignature  = &Error{ReasonBadSignature}
	errExpired       = &Error{ReasonExpired}
	errNotYetValid   = &Error{ReasonNotYetValid}
	errWrongIssuer   = &Error{ReasonWrongIssuer}
	errWrongAudience = &Error{ReasonWrongAudience}
	errNoSubject     = &Error{ReasonNoSubject}
	errBadAlgorithm  = &Error{ReasonBadAlgorithm}
	errNoExpiry      = &Error{ReasonNoExpiry}
)

// The 401 answers. Constant per reason so that rejecting never allocates and
// never echoes the token. The WWW-Authenticate values follow RFC 6750
// section 3: no error code when no token was sent, invalid_token otherwise.
const (
	challengeMissing = "WWW-Authenticate: Bearer"
	challengeInvalid = `WWW-Authenticate: Bearer error="invalid_token"`
)

var httpErrors = map[string]*protocol.HTTPError{
	ReasonMissing:       {Status: 401, Reason: "missing bearer token", Header: challengeMissing},
	ReasonMalformed:     {Status: 401, Reason: "malformed token", Header: challengeInvalid},
	ReasonBadSignature:  {Status: 401, Reason: "invalid token signature", Header: challengeInvalid},
	ReasonExpired:       {Status: 401, Reason: "token expired", Header: challengeInvalid},
	ReasonNotYetValid:   {Status: 401, Reason: "token not valid yet", Header: challengeInvalid},
	ReasonWrongIssuer:   {Status: 401, Reason: "token from the wrong issuer", Header: challengeInvalid},
	ReasonWrongAudience: {Status: 401, Reason: "token for the wrong audience", Header: challengeInvalid},
	ReasonNoSubject:     {Status: 401, Reason: "token names no valid user", Header: challengeInvalid},
	ReasonBadAlgorithm:  {Status: 401, Reason: "token algorithm not accepted", Header: challengeInvalid},
	ReasonNoExpiry:      {Status: 401, Reason: "token has no expiry", Header: challengeInvalid},
}

// Unauthorized returns the 401 answer for an error from Verify: a shared
// value that must not be modified. An error that is not an *Error gets the
// "malformed" answer.
func Unauthorized(err error) *protocol.HTTPError {
	if e, ok := err.(*Error); ok {
		if h := httpErrors[e.Reason]; h != nil {
			return h
		}
	}
	return httpErrors[ReasonMalformed]
}
