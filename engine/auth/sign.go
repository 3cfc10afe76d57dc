package auth

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Signer mints tokens, for development and tests; production tokens come
// from an identity provider. Build it with NewSigner or NewSignerPEM, set the
// optional fields, then it is safe for concurrent use.
type Signer struct {
	// Issuer and Audience, when set, go into the "iss" and "aud" claims.
	Issuer, Audience string
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time

	method jwt.SigningMethod
	key    any
}

// NewSigner returns an HS256 signer. secret must be at least MinSecretBytes
// long; it is copied.
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("auth: secret is %d bytes; need at least %d", len(secret), MinSecretBytes)
	}
	return &Signer{method: jwt.SigningMethodHS256, key: bytes.Clone(secret)}, nil
}

// NewSignerPEM returns a signer for a PEM "PRIVATE KEY" (PKCS #8) or "RSA
// PRIVATE KEY" (PKCS #1) block: RS256 for an RSA key of at least MinRSABits,
// EdDSA for an Ed25519 key.
func NewSignerPEM(privateKeyPEM []byte) (*Signer, error) {
	key, alg, err := parsePrivateKey(privateKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("auth: private key: %w", err)
	}
	return &Signer{method: jwt.GetSigningMethod(alg), key: key}, nil
}

// Algorithm returns the JWS algorithm the Signer uses.
func (s *Signer) Algorithm() string { return s.method.Alg() }

// Mint returns a signed token with "sub" user, "name" name (omitted when
// empty), "iat" now and "exp" now+ttl, plus "iss" and "aud" when set. user
// and name must pass the checks Verify applies; ttl must be positive.
func (s *Signer) Mint(user, name string, ttl time.Duration) (string, error) {
	if user == "" || !validText(user, MaxUserBytes) {
		return "", fmt.Errorf("auth: user must be 1 to %d bytes of UTF-8 without control characters", MaxUserBytes)
	}
	if !validText(name, MaxNameBytes) {
		return "", fmt.Errorf("auth: name must be at most %d bytes of UTF-8 without control characters", MaxNameBytes)
	}
	if ttl <= 0 {
		return "", errors.New("auth: ttl must be positive")
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now()
	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   user,
			Issuer:    s.Issuer,
			IssuedAt:  jwt.NewNumericDate(t),
			ExpiresAt: jwt.NewNumericDate(t.Add(ttl)),
		},
		Name: name,
	}
	if s.Audience != "" {
		claims.Audience = jwt.ClaimStrings{s.Audience}
	}
	return jwt.NewWithClaims(s.method, claims).SignedString(s.key)
}

// ReadSecretFile reads an HS256 secret from a file. The bytes are used as
// they are, except that one trailing newline ("\n" or "\r\n") is dropped, as
// editors and `echo` add one: store a random secret as text (base64), not
// raw bytes that might end in a newline.
func ReadSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.HasSuffix(b, []byte("\r\n")) {
		return b[:len(b)-2], nil
	}
	return bytes.TrimSuffix(b, []byte("\n")), nil
}
