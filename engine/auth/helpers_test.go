package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testSecret is 40 bytes, over MinSecretBytes.
var testSecret = []byte("test-secret-0123456789abcdef-0123456789")

// testNow is the fixed clock every test Verifier and Signer reads.
var testNow = time.Unix(1_750_000_000, 0)

func fixedNow() time.Time { return testNow }

// testKeyPair holds one asymmetric key and its PEM encodings.
type testKeyPair struct {
	private    any // *rsa.PrivateKey or ed25519.PrivateKey
	public     any
	publicPEM  []byte // PKIX "PUBLIC KEY"
	privatePEM []byte // PKCS #8 "PRIVATE KEY"
}

var (
	rsaOnce sync.Once
	rsaPair testKeyPair
	rsaErr  error
)

// rsaKeys returns one 2048-bit RSA key per test binary: generating it takes
// tens of milliseconds.
func rsaKeys(tb testing.TB) testKeyPair {
	tb.Helper()
	rsaOnce.Do(func() {
		var k *rsa.PrivateKey
		if k, rsaErr = rsa.GenerateKey(rand.Reader, 2048); rsaErr == nil {
			rsaPair, rsaErr = encodePair(k, &k.PublicKey)
		}
	})
	if rsaErr != nil {
		tb.Fatal(rsaErr)
	}
	return rsaPair
}

// edKeys returns a fresh Ed25519 key (cheap to generate).
func edKeys(tb testing.TB) testKeyPair {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := encodePair(priv, pub)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func encodePair(private, public any) (testKeyPair, error) {
	pubDER, err := x509.MarshalPKIXPublicKey(public)
	if err != nil {
		return testKeyPair{}, err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(private)
	if err != nil {
		return testKeyPair{}, err
	}
	return testKeyPair{
		private:    private,
		public:     public,
		publicPEM:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}),
		privatePEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}),
	}, nil
}

// newTestVerifier builds a Verifier on the fixed clock, failing the test on
// error.
func newTestVerifier(tb testing.TB, cfg Config) *Verifier {
	tb.Helper()
	if cfg.Now == nil {
		cfg.Now = fixedNow
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		tb.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// validClaims is a claim set that every default Verifier accepts.
func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub":  "alice",
		"name": "Alice",
		"iat":  testNow.Add(-time.Minute).Unix(),
		"exp":  testNow.Add(time.Hour).Unix(),
	}
}

// with returns a copy of c with the given claims set; a nil value deletes.
func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
		} else {
			out[k] = kv[i+1]
		}
	}
	return out
}

// sign signs claims with method and key using golang-jwt directly, so tests
// can build tokens that Signer refuses to make.
func sign(tb testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	tb.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		tb.Fatalf("signing %s: %v", method.Alg(), err)
	}
	return s
}

// segments splits a compact JWS into its three parts.
func segments(tb testing.TB, token string) [3]string {
	tb.Helper()
	p := strings.Split(token, ".")
	if len(p) != 3 {
		tb.Fatalf("token has %d segments", len(p))
	}
	return [3]string{p[0], p[1], p[2]}
}

// reasonOf returns err's Reason, or "" for nil, failing on other errors.
func reasonOf(tb testing.TB, err error) string {
	tb.Helper()
	if err == nil {
		return ""
	}
	var e *Error
	if !errors.As(err, &e) {
		tb.Fatalf("error %v (%T) is not an *auth.Error", err, err)
	}
	return e.Reason
}
