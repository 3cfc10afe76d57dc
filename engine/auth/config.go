package auth

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// MinSecretBytes is the shortest HS256 secret accepted: RFC 7518
	// section 3.2 asks for a key at least as long as the hash output.
	MinSecretBytes = 32
	// MinRSABits is the smallest RSA modulus accepted.
	MinRSABits = 2048
	// DefaultLeeway is the clock skew allowed on exp, nbf and iat when
	// Config.Leeway is zero.
	DefaultLeeway = 30 * time.Second
)

// Config says which tokens a Verifier accepts. Set exactly one of Secret and
// PublicKeyPEM; every other field has a usable zero value.
type Config struct {
	// Secret is the HS256 key, at least MinSecretBytes long. The bytes are
	// used as they are (a base64 text secret is not decoded).
	Secret []byte
	// PublicKeyPEM is a PEM "PUBLIC KEY" (PKIX), "RSA PUBLIC KEY" (PKCS #1)
	// or "CERTIFICATE" block holding an RSA key (at least MinRSABits; tokens
	// must be RS256) or an Ed25519 key (tokens must be EdDSA).
	PublicKeyPEM []byte

	// Issuer, when set, must equal the token's "iss" claim, which is then
	// required. Empty: "iss" is not checked.
	Issuer string
	// Audience, when set, must be one of the token's "aud" values, which are
	// then required. Empty: "aud" is not checked.
	Audience string
	// Leeway is the clock skew allowed when checking exp, nbf and iat.
	// Zero means DefaultLeeway; a negative value means none.
	Leeway time.Duration
	// AllowNoExpiry accepts tokens without an "exp" claim. The zero value
	// rejects them (ReasonNoExpiry): a token that never expires cannot be
	// taken back.
	AllowNoExpiry bool
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
}

// verificationKey parses and checks cfg's key and returns the one algorithm
// tokens must use with it.
func (cfg *Config) verificationKey() (key any, alg string, err error) {
	switch {
	case cfg.Secret != nil && cfg.PublicKeyPEM != nil:
		return nil, "", errors.New("auth: set only one of Config.Secret and Config.PublicKeyPEM")
	case cfg.Secret != nil:
		if len(cfg.Secret) < MinSecretBytes {
			return nil, "", fmt.Errorf("auth: Config.Secret is %d bytes; need at least %d", len(cfg.Secret), MinSecretBytes)
		}
		// A private copy, so that the caller reusing its slice cannot change
		// the key under a running Verifier.
		return append([]byte(nil), cfg.Secret...), jwt.SigningMethodHS256.Alg(), nil
	case cfg.PublicKeyPEM != nil:
		key, alg, err := parsePublicKey(cfg.PublicKeyPEM)
		if err != nil {
			return nil, "", fmt.Errorf("auth: Config.PublicKeyPEM: %w", err)
		}
		return key, alg, nil
	}
	return nil, "", errors.New("auth: set Config.Secret (HS256) or Config.PublicKeyPEM (RS256 or EdDSA)")
}

func parsePublicKey(data []byte) (any, string, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, "", errors.New("no PEM block found")
	}
	var key any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	default:
		return nil, "", fmt.Errorf("PEM block is %q; want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", block.Type)
	}
	if err != nil {
		return nil, "", err
	}
	return checkKey(key)
}

func parsePrivateKey(data []byte) (any, string, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, "", errors.New("no PEM block found")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, "", fmt.Errorf("PEM block is %q; want PRIVATE KEY or RSA PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, "", err
	}
	return checkKey(key)
}

// checkKey returns the algorithm a key is used with, or why it is refused.
// PKCS #8 yields ed25519.PrivateKey by value and *rsa.PrivateKey by pointer.
func checkKey(key any) (any, string, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSABits {
			return nil, "", fmt.Errorf("RSA key is %d bits; need at least %d", k.N.BitLen(), MinRSABits)
		}
		return k, jwt.SigningMethodRS256.Alg(), nil
	case *rsa.PrivateKey:
		if _, _, err := checkKey(&k.PublicKey); err != nil {
			return nil, "", err
		}
		return k, jwt.SigningMethodRS256.Alg(), nil
	case ed25519.PublicKey:
		return k, jwt.SigningMethodEdDSA.Alg(), nil
	case ed25519.PrivateKey:
		return k, jwt.SigningMethodEdDSA.Alg(), nil
	}
	return nil, "", fmt.Errorf("unsupported key type %T; want RSA or Ed25519", key)
}
