package auth

import (
	"errors"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-chat/switchboard/protocol"
)

const (
	// MaxUserBytes bounds the "sub" claim.
	MaxUserBytes = 128
	// MaxNameBytes bounds the "name" claim.
	MaxNameBytes = 256
	// maxTokenBytes bounds what Verify will parse; the handshake header
	// limit is 8 KiB anyway.
	maxTokenBytes = 8192
)

// Claims is what a valid token says about its holder.
type Claims struct {
	// User is the "sub" claim: 1 to MaxUserBytes of valid UTF-8 without
	// spaces or control characters (protocol.ValidUserID).
	User string
	// Name is the optional "name" claim (display name): at most
	// MaxNameBytes, without control characters; empty when absent.
	Name string
	// Expires is the "exp" claim; zero when the token has none (only
	// possible with Config.AllowNoExpiry).
	Expires time.Time
}

// Verifier checks tokens against one key and one algorithm. Build it with
// NewVerifier; the zero value is not usable. Safe for concurrent use.
type Verifier struct {
	parser        *jwt.Parser
	key           any
	alg           string
	issuer        string
	audience      string
	allowNoExpiry bool
}

// NewVerifier checks cfg and returns a Verifier for it. Errors name the
// offending Config field.
func NewVerifier(cfg Config) (*Verifier, error) {
	key, alg, err := cfg.verificationKey()
	if err != nil {
		return nil, err
	}
	leeway := cfg.Leeway
	switch {
	case leeway == 0:
		leeway = DefaultLeeway
	case leeway < 0:
		leeway = 0
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{alg}),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
		jwt.WithIssuedAt(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	if !cfg.AllowNoExpiry {
		opts = append(opts, jwt.WithExpirationRequired())
	}
	return &Verifier{
		parser:        jwt.NewParser(opts...),
		key:           key,
		alg:           alg,
		issuer:        cfg.Issuer,
		audience:      cfg.Audience,
		allowNoExpiry: cfg.AllowNoExpiry,
	}, nil
}

// Algorithm returns the one JWS algorithm the Verifier accepts: "HS256",
// "RS256" or "EdDSA".
func (v *Verifier) Algorithm() string { return v.alg }

// tokenClaims is the JSON payload: the registered claims plus "name".
type tokenClaims struct {
	jwt.RegisteredClaims
	Name string `json:"name,omitempty"`
}

// Verify checks a token's signature and claims. On failure the error is an
// *Error whose Reason says why. token is not retained.
func (v *Verifier) Verify(token []byte) (Claims, error) {
	if len(token) == 0 {
		return Claims{}, errMissing
	}
	if len(token) > maxTokenBytes {
		return Claims{}, errMalformed
	}
	var tc tokenClaims
	parsed, err := v.parser.ParseWithClaims(string(token), &tc, v.keyFor)
	if err != nil {
		return Claims{}, v.classify(parsed, &tc, err)
	}
	// The chat layer names users in frames and checks names it is sent
	// with protocol.ValidUserID: a subject it would refuse is no subject.
	if !protocol.ValidUserID(tc.Subject) {
		return Claims{}, errNoSubject
	}
	if !validText(tc.Name, MaxNameBytes) {
		return Claims{}, errMalformed
	}
	c := Claims{User: tc.Subject, Name: tc.Name}
	if tc.ExpiresAt != nil {
		c.Expires = tc.ExpiresAt.Time
	}
	return c, nil
}

// keyFor hands golang-jwt the key. The parser has already refused any alg
// other than v.alg (WithValidMethods); checking again here means a future
// change to the options cannot open the HS/RS confusion.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	if t.Method == nil || t.Method.Alg() != v.alg {
		return nil, errBadAlgorithm
	}
	return v.key, nil
}

// classify maps a golang-jwt error to one of our reasons. When several claims
// fail at once the first of expired, not_yet_valid, wrong_issuer,
// wrong_audience, no_expiry wins.
func (v *Verifier) classify(t *jwt.Token, tc *tokenClaims, err error) *Error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// Unknown alg, missing alg, or our keyFor refusing one.
		if t != nil {
			if _, ok := t.Header["alg"].(string); ok {
				return errBadAlgorithm
			}
		}
		return errMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if t != nil && (t.Method == nil || t.Method.Alg() != v.alg) {
			return errBadAlgorithm
		}
		return errBadSignature
	case !errors.Is(err, jwt.ErrTokenInvalidClaims):
		return errMalformed
	}
	missing := errors.Is(err, jwt.ErrTokenRequiredClaimMissing)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return errExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return errNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), missing && v.issuer != "" && tc.Issuer == "":
		return errWrongIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience), missing && v.audience != "" && !hasAudience(tc.Audience):
		return errWrongAudience
	case missing && !v.allowNoExpiry && tc.ExpiresAt == nil:
		return errNoExpiry
	}
	return errMalformed
}

// hasAudience mirrors golang-jwt's notion of an "aud" claim being present.
func hasAudience(aud jwt.ClaimStrings) bool {
	return len(aud) > 1 || len(aud) == 1 && aud[0] != ""
}

// validText reports whether s is valid UTF-8 of at most limit bytes without
// control characters (C0, DEL, C1).
func validText(s string, limit int) bool {
	if len(s) > limit || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
