package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/engine/auth"
)

const testTokenSecret = "dev-secret-0123456789abcdef-0123456789"

// runToken runs the token command in-process with env as its environment.
func runToken(tb testing.TB, env map[string]string, args ...string) (stdout, stderr string, err error) {
	tb.Helper()
	var out, errOut bytes.Buffer
	err = token(args, &out, &errOut, func(k string) string { return env[k] })
	return out.String(), errOut.String(), err
}

// writeFile writes content to a new file in a test directory.
func writeFile(tb testing.TB, name string, content []byte) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// ed25519PEM returns a fresh key pair as PKCS #8 and PKIX PEM.
func ed25519PEM(tb testing.TB) (private, public []byte) {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		tb.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
}

func TestTokenCommand(t *testing.T) {
	privPEM, pubPEM := ed25519PEM(t)
	keyFile := writeFile(t, "key.pem", privPEM)
	secretFile := writeFile(t, "secret", []byte(testTokenSecret+"\n"))
	env := map[string]string{secretEnv: testTokenSecret}

	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		verifier auth.Config
		want     auth.Claims
		ttl      time.Duration
	}{
		{"env secret", env, []string{"--user", "alice"},
			auth.Config{Secret: []byte(testTokenSecret)}, auth.Claims{User: "alice"}, 24 * time.Hour},
		{"name and ttl", env, []string{"--user", "alice", "--name", "Alice Liddell", "--ttl", "90m"},
			auth.Config{Secret: []byte(testTokenSecret)}, auth.Claims{User: "alice", Name: "Alice Liddell"}, 90 * time.Minute},
		{"secret file, newline dropped", nil, []string{"--user", "bob", "--secret-file", secretFile},
			auth.Config{Secret: []byte(testTokenSecret)}, auth.Claims{User: "bob"}, 24 * time.Hour},
		{"private key file beats env", env, []string{"--user", "carol", "--private-key-file", keyFile},
			auth.Config{PublicKeyPEM: pubPEM}, auth.Claims{User: "carol"}, 24 * time.Hour},
		{"issuer and audience", env, []string{"--user", "dave", "--issuer", "dev", "--audience", "switchboard"},
			auth.Config{Secret: []byte(testTokenSecret), Issuer: "dev", Audience: "switchboard"}, auth.Claims{User: "dave"}, 24 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now()
			stdout, stderr, err := runToken(t, tc.env, tc.args...)
			after := time.Now()
			if err != nil {
				t.Fatalf("token: %v\nstderr: %s", err, stderr)
			}
			tok, ok := strings.CutSuffix(stdout, "\n")
			if !ok || strings.ContainsAny(tok, "\n ") || tok == "" {
				t.Fatalf("stdout is not exactly one token line: %q", stdout)
			}
			if strings.Contains(stderr, tok) {
				t.Errorf("stderr repeats the token: %q", stderr)
			}
			v, err := auth.NewVerifier(tc.verifier)
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify([]byte(tok))
			if err != nil {
				t.Fatalf("printed token refused: %v", err)
			}
			if c.User != tc.want.User || c.Name != tc.want.Name {
				t.Fatalf("claims %+v, want %+v", c, tc.want)
			}
			// exp has whole-second precision.
			lo, hi := before.Add(tc.ttl).Add(-time.Second), after.Add(tc.ttl).Add(time.Second)
			if c.Expires.Before(lo) || c.Expires.After(hi) {
				t.Fatalf("expires %v, want between %v and %v", c.Expires, lo, hi)
			}
		})
	}
}

func TestTokenCommandErrors(t *testing.T) {
	privPEM, _ := ed25519PEM(t)
	keyFile := writeFile(t, "key.pem", privPEM)
	secretFile := writeFile(t, "secret", []byte(testTokenSecret))
	env := map[string]string{secretEnv: testTokenSecret}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string // substrings of the error
	}{
		{"no key", nil, []string{"--user", "alice"},
			[]string{"no signing key", "export SWITCHBOARD_JWT_SECRET=$(head -c 32 /dev/urandom | base64)", "--secret-file", "--private-key-file"}},
		{"no user", env, nil, []string{"--user is required"}},
		{"short env secret", map[string]string{secretEnv: "short"}, []string{"--user", "alice"}, []string{"5 bytes", "at least 32"}},
		{"both files", nil, []string{"--user", "alice", "--secret-file", secretFile, "--private-key-file", keyFile}, []string{"only one of"}},
		{"missing secret file", nil, []string{"--user", "alice", "--secret-file", filepath.Join(t.TempDir(), "nope")}, []string{"no such file"}},
		{"secret as key file", nil, []string{"--user", "alice", "--private-key-file", secretFile}, []string{"no PEM block"}},
		{"zero ttl", env, []string{"--user", "alice", "--ttl", "0s"}, []string{"--ttl must be positive"}},
		{"bad ttl", env, []string{"--user", "alice", "--ttl", "soon"}, []string{"invalid value"}},
		{"control char in user", env, []string{"--user", "al\nice"}, []string{"user must be"}},
		{"stray argument", env, []string{"--user", "alice", "extra"}, []string{"unexpected arguments"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := runToken(t, tc.env, tc.args...)
			if err == nil {
				t.Fatalf("token succeeded: %q", stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if stdout != "" {
				t.Errorf("stdout on failure: %q", stdout)
			}
		})
	}
}

func TestTokenCommandHelp(t *testing.T) {
	stdout, stderr, err := runToken(t, nil, "--help")
	if err != nil || stdout != "" || !strings.Contains(stderr, "-user") {
		t.Fatalf("--help: err %v, stdout %q, stderr %q", err, stdout, stderr)
	}
}
