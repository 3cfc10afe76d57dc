package auth

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMintRoundTrip(t *testing.T) {
	rk := rsaKeys(t)
	ek := edKeys(t)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk.private.(*rsa.PrivateKey))})
	newHS := func() (*Signer, error) { return NewSigner(testSecret) }
	tests := []struct {
		name      string
		newSigner func() (*Signer, error)
		verifier  Config
		alg       string
	}{
		{"hs256", newHS, Config{Secret: testSecret}, "HS256"},
		{"rs256 pkcs8", func() (*Signer, error) { return NewSignerPEM(rk.privatePEM) }, Config{PublicKeyPEM: rk.publicPEM}, "RS256"},
		{"rs256 pkcs1", func() (*Signer, error) { return NewSignerPEM(pkcs1) }, Config{PublicKeyPEM: rk.publicPEM}, "RS256"},
		{"eddsa", func() (*Signer, error) { return NewSignerPEM(ek.privatePEM) }, Config{PublicKeyPEM: ek.publicPEM}, "EdDSA"},
		{"iss and aud", newHS, Config{Secret: testSecret, Issuer: "dev", Audience: "switchboard"}, "HS256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.newSigner()
			if err != nil {
				t.Fatal(err)
			}
			if s.Algorithm() != tc.alg {
				t.Fatalf("signer algorithm %s, want %s", s.Algorithm(), tc.alg)
			}
			s.Issuer, s.Audience, s.Now = tc.verifier.Issuer, tc.verifier.Audience, fixedNow
			tok, err := s.Mint("alice", "Alice Liddell", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			c, err := newTestVerifier(t, tc.verifier).Verify([]byte(tok))
			if err != nil {
				t.Fatalf("minted token refused: %v", err)
			}
			want := Claims{User: "alice", Name: "Alice Liddell", Expires: testNow.Add(time.Hour)}
			if c.User != want.User || c.Name != want.Name || !c.Expires.Equal(want.Expires) {
				t.Fatalf("claims %+v, want %+v", c, want)
			}
		})
	}
}

func TestMintExpiresForTheVerifier(t *testing.T) {
	s, err := NewSigner(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = fixedNow
	tok, err := s.Mint("alice", "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	later := newTestVerifier(t, Config{Secret: testSecret, Now: func() time.Time { return testNow.Add(2 * time.Minute) }})
	if _, err := later.Verify([]byte(tok)); reasonOf(t, err) != ReasonExpired {
		t.Fatalf("token past its ttl: %v, want expired", err)
	}
}

func TestSignerErrors(t *testing.T) {
	s, err := NewSigner(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		user, dname string
		ttl         time.Duration
		want        string
	}{
		{"no user", "", "", time.Hour, "user must be"},
		{"long user", strings.Repeat("u", MaxUserBytes+1), "", time.Hour, "user must be"},
		{"control in user", "a\tb", "", time.Hour, "user must be"},
		{"control in name", "alice", "A\x00", time.Hour, "name must be"},
		{"zero ttl", "alice", "", 0, "ttl must be positive"},
		{"negative ttl", "alice", "", -time.Hour, "ttl must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := s.Mint(tc.user, tc.dname, tc.ttl)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Mint = %q, %v; want error containing %q", tok, err, tc.want)
			}
		})
	}

	if _, err := NewSigner([]byte("short")); err == nil || !strings.Contains(err.Error(), "5 bytes") {
		t.Errorf("short secret: %v", err)
	}
	rk := rsaKeys(t)
	if _, err := NewSignerPEM(rk.publicPEM); err == nil || !strings.Contains(err.Error(), "PUBLIC KEY") {
		t.Errorf("public key as private: %v", err)
	}
	if _, err := NewSignerPEM([]byte("nope")); err == nil || !strings.Contains(err.Error(), "no PEM block") {
		t.Errorf("not PEM: %v", err)
	}
}

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"plain", "s3cret", "s3cret"},
		{"newline", "s3cret\n", "s3cret"},
		{"crlf", "s3cret\r\n", "s3cret"},
		{"only one newline dropped", "s3cret\n\n", "s3cret\n"},
		{"inner spaces kept", " s3 cret ", " s3 cret "},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, string(rune('a'+i)))
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadSecretFile(path)
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := ReadSecretFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file read without error")
	}
}
