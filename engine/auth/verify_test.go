package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestVerify(t *testing.T) {
	rk := rsaKeys(t)
	ek := edKeys(t)
	other := edKeys(t)
	hs := newTestVerifier(t, Config{Secret: testSecret})
	rs := newTestVerifier(t, Config{PublicKeyPEM: rk.publicPEM})
	ed := newTestVerifier(t, Config{PublicKeyPEM: ek.publicPEM})
	issAud := newTestVerifier(t, Config{Secret: testSecret, Issuer: "https://id.example", Audience: "switchboard"})
	noExpiryOK := newTestVerifier(t, Config{Secret: testSecret, AllowNoExpiry: true})
	noLeeway := newTestVerifier(t, Config{Secret: testSecret, Leeway: -1})

	hsSign := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, testSecret, c) }
	valid := validClaims()
	good := hsSign(valid)
	seg := segments(t, good)

	// A payload naming someone else, spliced onto alice's signature.
	forged, _ := json.Marshal(with(valid, "sub", "mallory"))
	tamperedPayload := seg[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + seg[2]
	// Flip the first signature character (the last one may carry only
	// padding bits that a lenient decoder ignores).
	flipped := []byte(seg[2])
	if flipped[0] == 'A' {
		flipped[0] = 'B'
	} else {
		flipped[0] = 'A'
	}
	tamperedSignature := seg[0] + "." + seg[1] + "." + string(flipped)

	noneToken := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid)
	// The classic confusion: the RSA public key's PEM text used as an HMAC
	// secret, hoping the verifier feeds its "key" to HS256.
	confused := sign(t, jwt.SigningMethodHS256, rk.publicPEM, valid)
	unknownAlg := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS999","typ":"JWT"}`)) + "." + seg[1] + "." + seg[2]
	noAlg := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT"}`)) + "." + seg[1] + "." + seg[2]

	tests := []struct {
		name   string
		v      *Verifier
		token  string
		reason string // "" means accepted
		user   string // checked when accepted
	}{
		{"hs256 valid", hs, good, "", "alice"},
		{"rs256 valid", rs, sign(t, jwt.SigningMethodRS256, rk.private, valid), "", "alice"},
		{"eddsa valid", ed, sign(t, jwt.SigningMethodEdDSA, ek.private, valid), "", "alice"},
		{"unicode user", hs, hsSign(with(valid, "sub", "zoë-名前")), "", "zoë-名前"},
		{"user at limit", hs, hsSign(with(valid, "sub", strings.Repeat("u", MaxUserBytes))), "", strings.Repeat("u", MaxUserBytes)},

		{"empty", hs, "", ReasonMissing, ""},
		{"garbage", hs, "not-a-token", ReasonMalformed, ""},
		{"two segments", hs, seg[0] + "." + seg[1], ReasonMalformed, ""},
		{"bad base64", hs, seg[0] + ".!!!." + seg[2], ReasonMalformed, ""},
		{"payload not json", hs, seg[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1,2")) + "." + seg[2], ReasonMalformed, ""},
		{"exp not a number", hs, hsSign(with(valid, "exp", "tomorrow")), ReasonMalformed, ""},
		{"oversized token", hs, good + strings.Repeat("A", maxTokenBytes), ReasonMalformed, ""},
		{"no alg header", hs, noAlg, ReasonMalformed, ""},

		{"alg none", hs, noneToken, ReasonBadAlgorithm, ""},
		{"alg none against rs256", rs, noneToken, ReasonBadAlgorithm, ""},
		{"unknown alg", hs, unknownAlg, ReasonBadAlgorithm, ""},
		{"hs256 signed with rsa public key", rs, confused, ReasonBadAlgorithm, ""},
		{"hs256 against rs256 verifier", rs, good, ReasonBadAlgorithm, ""},
		{"rs256 against eddsa verifier", ed, sign(t, jwt.SigningMethodRS256, rk.private, valid), ReasonBadAlgorithm, ""},
		{"eddsa against hs256 verifier", hs, sign(t, jwt.SigningMethodEdDSA, ek.private, valid), ReasonBadAlgorithm, ""},
		{"hs512 against hs256 verifier", hs, sign(t, jwt.SigningMethodHS512, testSecret, valid), ReasonBadAlgorithm, ""},

		{"tampered payload", hs, tamperedPayload, ReasonBadSignature, ""},
		{"tampered signature", hs, tamperedSignature, ReasonBadSignature, ""},
		{"wrong secret", hs, sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), valid), ReasonBadSignature, ""},
		{"other ed25519 key", ed, sign(t, jwt.SigningMethodEdDSA, other.private, valid), ReasonBadSignature, ""},

		{"expired", hs, hsSign(with(valid, "exp", testNow.Add(-time.Minute).Unix())), ReasonExpired, ""},
		{"expired within leeway", hs, hsSign(with(valid, "exp", testNow.Add(-20*time.Second).Unix())), "", "alice"},
		{"expired, no leeway", noLeeway, hsSign(with(valid, "exp", testNow.Add(-time.Second).Unix())), ReasonExpired, ""},
		{"nbf in future", hs, hsSign(with(valid, "nbf", testNow.Add(time.Minute).Unix())), ReasonNotYetValid, ""},
		{"nbf within leeway", hs, hsSign(with(valid, "nbf", testNow.Add(20*time.Second).Unix())), "", "alice"},
		{"iat in future", hs, hsSign(with(valid, "iat", testNow.Add(time.Minute).Unix())), ReasonNotYetValid, ""},
		{"iat within leeway", hs, hsSign(with(valid, "iat", testNow.Add(20*time.Second).Unix())), "", "alice"},
		{"expired and not yet valid", hs, hsSign(with(valid, "exp", testNow.Add(-time.Hour).Unix(), "nbf", testNow.Add(time.Hour).Unix())), ReasonExpired, ""},

		{"missing exp", hs, hsSign(with(valid, "exp", nil)), ReasonNoExpiry, ""},
		{"missing exp allowed", noExpiryOK, hsSign(with(valid, "exp", nil)), "", "alice"},

		{"iss and aud match", issAud, hsSign(with(valid, "iss", "https://id.example", "aud", "switchboard")), "", "alice"},
		{"aud list holds ours", issAud, hsSign(with(valid, "iss", "https://id.example", "aud", []string{"other", "switchboard"})), "", "alice"},
		{"wrong iss", issAud, hsSign(with(valid, "iss", "https://evil.example", "aud", "switchboard")), ReasonWrongIssuer, ""},
		{"missing iss", issAud, hsSign(with(valid, "aud", "switchboard")), ReasonWrongIssuer, ""},
		{"wrong aud", issAud, hsSign(with(valid, "iss", "https://id.example", "aud", "billing")), ReasonWrongAudience, ""},
		{"missing aud", issAud, hsSign(with(valid, "iss", "https://id.example")), ReasonWrongAudience, ""},
		{"iss ignored when not configured", hs, hsSign(with(valid, "iss", "anyone", "aud", "anything")), "", "alice"},

		{"no sub", hs, hsSign(with(valid, "sub", nil)), ReasonNoSubject, ""},
		{"empty sub", hs, hsSign(with(valid, "sub", "")), ReasonNoSubject, ""},
		{"oversized sub", hs, hsSign(with(valid, "sub", strings.Repeat("u", MaxUserBytes+1))), ReasonNoSubject, ""},
		{"sub with newline", hs, hsSign(with(valid, "sub", "alice\nadmin")), ReasonNoSubject, ""},
		{"sub with C1 control", hs, hsSign(with(valid, "sub", "alice\u0085")), ReasonNoSubject, ""},
		{"name with control", hs, hsSign(with(valid, "name", "A\x1b[31m")), ReasonMalformed, ""},
		{"oversized name", hs, hsSign(with(valid, "name", strings.Repeat("n", MaxNameBytes+1))), ReasonMalformed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.v.Verify([]byte(tc.token))
			if got := reasonOf(t, err); got != tc.reason {
				t.Fatalf("reason %q, want %q", got, tc.reason)
			}
			if tc.reason != "" {
				if c != (Claims{}) {
					t.Errorf("refused token returned claims %+v", c)
				}
				return
			}
			if c.User != tc.user {
				t.Errorf("User %q, want %q", c.User, tc.user)
			}
		})
	}
}

func TestVerifyClaims(t *testing.T) {
	v := newTestVerifier(t, Config{Secret: testSecret})
	exp := testNow.Add(2 * time.Hour)
	tok := sign(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "exp", exp.Unix(), "role", "admin"))
	c, err := v.Verify([]byte(tok))
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{User: "alice", Name: "Alice", Expires: exp}
	if c.User != want.User || c.Name != want.Name || !c.Expires.Equal(want.Expires) {
		t.Fatalf("claims %+v, want %+v", c, want)
	}

	lax := newTestVerifier(t, Config{Secret: testSecret, AllowNoExpiry: true})
	c, err = lax.Verify([]byte(sign(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "exp", nil, "name", nil))))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Expires.IsZero() || c.Name != "" {
		t.Fatalf("claims %+v, want no expiry and no name", c)
	}
}

// TestVerifyDoesNotRetainToken checks that the claims do not alias the
// token's bytes: the caller's buffer is reused for the next request.
func TestVerifyDoesNotRetainToken(t *testing.T) {
	v := newTestVerifier(t, Config{Secret: testSecret})
	buf := []byte(sign(t, jwt.SigningMethodHS256, testSecret, validClaims()))
	c, err := v.Verify(buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'X'
	}
	if c.User != "alice" || c.Name != "Alice" {
		t.Fatalf("claims changed with the token buffer: %+v", c)
	}
}

func TestNewVerifierConfigErrors(t *testing.T) {
	rk := rsaKeys(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallDER, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)

	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error
	}{
		{"nothing", Config{}, "Config.Secret (HS256) or Config.PublicKeyPEM"},
		{"both", Config{Secret: testSecret, PublicKeyPEM: rk.publicPEM}, "only one of Config.Secret and Config.PublicKeyPEM"},
		{"short secret", Config{Secret: []byte("too short")}, "Config.Secret is 9 bytes"},
		{"empty secret", Config{Secret: []byte{}}, "Config.Secret is 0 bytes"},
		{"not pem", Config{PublicKeyPEM: []byte("hello")}, "Config.PublicKeyPEM: no PEM block"},
		{"private key given", Config{PublicKeyPEM: rk.privatePEM}, `Config.PublicKeyPEM: PEM block is "PRIVATE KEY"`},
		{"small rsa", Config{PublicKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: smallDER})}, "Config.PublicKeyPEM: RSA key is 1024 bits"},
		{"ecdsa", Config{PublicKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})}, "Config.PublicKeyPEM: unsupported key type"},
		{"corrupt der", Config{PublicKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}})}, "Config.PublicKeyPEM"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVerifier(tc.cfg)
			if err == nil {
				t.Fatalf("NewVerifier accepted the config (alg %s)", v.Algorithm())
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestNewVerifierKeyFormats(t *testing.T) {
	rk := rsaKeys(t)
	ek := edKeys(t)
	rsaPub := rk.public.(*rsa.PublicKey)
	cert := selfSignedCert(t, ek)
	tests := []struct {
		name string
		pem  []byte
		alg  string
		sign func() string
	}{
		{"rsa pkix", rk.publicPEM, "RS256", func() string { return sign(t, jwt.SigningMethodRS256, rk.private, validClaims()) }},
		{"rsa pkcs1", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rsaPub)}), "RS256",
			func() string { return sign(t, jwt.SigningMethodRS256, rk.private, validClaims()) }},
		{"ed25519 pkix", ek.publicPEM, "EdDSA", func() string { return sign(t, jwt.SigningMethodEdDSA, ek.private, validClaims()) }},
		{"ed25519 certificate", cert, "EdDSA", func() string { return sign(t, jwt.SigningMethodEdDSA, ek.private, validClaims()) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newTestVerifier(t, Config{PublicKeyPEM: tc.pem})
			if v.Algorithm() != tc.alg {
				t.Fatalf("algorithm %s, want %s", v.Algorithm(), tc.alg)
			}
			if _, err := v.Verify([]byte(tc.sign())); err != nil {
				t.Fatalf("valid token refused: %v", err)
			}
		})
	}
}

func selfSignedCert(tb testing.TB, k testKeyPair) []byte {
	tb.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "switchboard test issuer"},
		NotBefore:    testNow.Add(-time.Hour),
		NotAfter:     testNow.Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.public, k.private)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestSecretIsCopied checks that the caller reusing its secret slice does not
// change a running Verifier's key.
func TestSecretIsCopied(t *testing.T) {
	secret := append([]byte(nil), testSecret...)
	v := newTestVerifier(t, Config{Secret: secret})
	for i := range secret {
		secret[i] = 0
	}
	if _, err := v.Verify([]byte(sign(t, jwt.SigningMethodHS256, testSecret, validClaims()))); err != nil {
		t.Fatalf("verifier key changed with the caller's slice: %v", err)
	}
}

func TestErrorMessages(t *testing.T) {
	for _, reason := range []string{ReasonMissing, ReasonMalformed, ReasonBadSignature, ReasonExpired,
		ReasonNotYetValid, ReasonWrongIssuer, ReasonWrongAudience, ReasonNoSubject, ReasonBadAlgorithm, ReasonNoExpiry} {
		e := &Error{Reason: reason}
		if !strings.HasSuffix(e.Error(), reason) {
			t.Errorf("Error() %q does not end with the reason", e.Error())
		}
		h := Unauthorized(e)
		if h.Status != 401 || !strings.HasPrefix(h.Header, "WWW-Authenticate: Bearer") || h.Reason == "" {
			t.Errorf("reason %s: answer %+v", reason, h)
		}
		if h == Unauthorized(&Error{Reason: "no such reason"}) && reason != ReasonMalformed {
			t.Errorf("reason %s has no answer of its own", reason)
		}
	}
}
