package adversarial

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/engine/auth"
	"github.com/switchboard-chat/switchboard/protocol"
	"github.com/switchboard-chat/switchboard/room"
)

func signJWT(t testing.TB, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claimsFor(user string, extra ...any) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"sub": user, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"iss": "https://id.example", "aud": "switchboard"}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == nil {
			delete(c, extra[i].(string))
		} else {
			c[extra[i].(string)] = extra[i+1]
		}
	}
	return c
}

// tokenAttack is a token and the 401 body that names why it is refused.
type tokenAttack struct{ name, token, reason string }

// TestForgedTokens: every forged, expired or misdirected JWT is refused
// with 401 and WWW-Authenticate before the upgrade, from each place a token
// may come (header, subprotocol, query), and nothing is upgraded.
func TestForgedTokens(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hsVerifier, _ := auth.NewVerifier(auth.Config{Secret: testSecret, Issuer: "https://id.example", Audience: "switchboard", Leeway: -1})
	rsVerifier, _ := auth.NewVerifier(auth.Config{PublicKeyPEM: publicPEM})
	hs := startTarget(t, "epoll", func(_ *engine.Config, c *room.Config) { c.Auth = hsVerifier })
	rs := startTarget(t, "netpoll", func(_ *engine.Config, c *room.Config) { c.Auth = rsVerifier })
	hs.signer.Issuer, hs.signer.Audience = "https://id.example", "switchboard"
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	if rs.signer, err = auth.NewSignerPEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})); err != nil {
		t.Fatal(err)
	}

	hsSign := func(c jwt.MapClaims) string { return signJWT(t, jwt.SigningMethodHS256, testSecret, c) }
	good := hsSign(claimsFor("mallory"))
	seg := strings.Split(good, ".")
	forged, _ := json.Marshal(claimsFor("owner"))
	sig := []byte(seg[2])
	sig[0] = map[bool]byte{true: 'B', false: 'A'}[sig[0] == 'A'] // still base64, another signature
	none := signJWT(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claimsFor("owner"))
	hsAttacks := []tokenAttack{
		{"alg none", none, "token algorithm not accepted"},
		{"alg none, signature kept", strings.Join([]string{strings.Split(none, ".")[0], seg[1], seg[2]}, "."), "token algorithm not accepted"},
		{"RS256 against an HS256 server", signJWT(t, jwt.SigningMethodRS256, rsaKey, claimsFor("owner")), "token algorithm not accepted"},
		{"HS512 with the right secret", signJWT(t, jwt.SigningMethodHS512, testSecret, claimsFor("owner")), "token algorithm not accepted"},
		{"expired", hsSign(claimsFor("mallory", "exp", time.Now().Add(-time.Minute).Unix())), "token expired"},
		{"not yet valid", hsSign(claimsFor("mallory", "nbf", time.Now().Add(time.Hour).Unix())), "token not valid yet"},
		{"issued in the future", hsSign(claimsFor("mallory", "iat", time.Now().Add(time.Hour).Unix())), "token not valid yet"},
		{"wrong audience", hsSign(claimsFor("mallory", "aud", "billing")), "token for the wrong audience"},
		{"wrong issuer", hsSign(claimsFor("mallory", "iss", "https://evil.example")), "token from the wrong issuer"},
		{"no expiry", hsSign(claimsFor("mallory", "exp", nil)), "token has no expiry"},
		{"tampered signature", seg[0] + "." + seg[1] + "." + string(sig), "invalid token signature"},
		{"tampered payload", seg[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + seg[2], "invalid token signature"},
		{"another secret", signJWT(t, jwt.SigningMethodHS256, []byte("some-other-secret-0123456789abcdef"), claimsFor("owner")), "invalid token signature"},
		{"control bytes in sub", hsSign(claimsFor("owner\r\nX-Admin: 1")), "token names no valid user"},
		{"garbage", "not.a.jwt", "malformed token"},
		{"signature cut off", seg[0] + "." + seg[1], "malformed token"},
		// (A token past the 8 KiB header limit never reaches the verifier: 431.)
	}
	rsAttacks := []tokenAttack{
		// The confusion attack: the server's RSA public key, which is no
		// secret, used as an HMAC key.
		{"HS256 keyed with the RSA public key", signJWT(t, jwt.SigningMethodHS256, publicPEM, claimsFor("owner")), "token algorithm not accepted"},
		{"alg none", none, "token algorithm not accepted"},
	}
	run := func(t *testing.T, tg *target, attacks []tokenAttack) {
		tg.attack(t, func(t *testing.T) {
			for _, a := range attacks {
				for _, place := range []struct{ name, header, query string }{
					{"header", "Authorization: Bearer " + a.token, ""},
					{"subprotocol", "Sec-WebSocket-Protocol: " + auth.Subprotocol + ", " + auth.SubprotocolTokenPrefix + a.token, ""},
					{"query", "", "?token=" + url.QueryEscape(a.token)},
				} {
					req := upgradeRequest(tg, t, "")
					req = strings.Replace(req, "GET /ws ", "GET /ws"+place.query+" ", 1)
					if place.header != "" {
						req = strings.Replace(req, "\r\n\r\n", "\r\n"+place.header+"\r\n\r\n", 1)
					}
					resp := tg.httpAnswer(t, "127.0.0.2", []byte(req))
					body, _ := io.ReadAll(resp.Body)
					if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") ||
						strings.TrimSpace(string(body)) != a.reason {
						t.Errorf("%s in the %s: %d %q %q, want 401 invalid_token %q", a.name, place.name,
							resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body, a.reason)
					}
				}
			}
			if up := tg.e.Stats().Upgraded; up != 2 {
				t.Fatalf("%d connections upgraded with a bad token", up-2)
			}
		})
	}
	t.Run("hs256", func(t *testing.T) { run(t, hs, hsAttacks) })
	t.Run("rs256", func(t *testing.T) { run(t, rs, rsAttacks) })
}

// TestExpiryClosesActiveClients: a token that expires while connected
// closes the connection with 4003 even while the client keeps sending
// (room.TestJWTAuthAtTheHandshakeAndExpiryWhileConnected covers an idle
// one).
func TestExpiryClosesActiveClients(t *testing.T) {
	tg := startTarget(t, "epoll", func(e *engine.Config, _ *room.Config) { e.TickInterval = 20 * time.Millisecond })
	tg.attack(t, func(t *testing.T) {
		short, _ := tg.signer.Mint("mallory", "", 2*time.Second)
		wc := tg.open(t, "127.0.0.2", "", "Authorization: Bearer "+short)
		c := wc.c
		stop := make(chan struct{})
		go func() { // keep talking: activity does not extend a token
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := c.Write(frameBytes(true, 0, ws.OpText, []byte(`{"type":"presence","status":"online"}`))); err != nil {
						return
					}
				}
			}
		}()
		wc.expectClose(protocol.StatusTokenExpired)
		close(stop)
	})
}

// TestOriginAndHost: the Origin allow-list is exact (scheme, host, port;
// case-insensitive), applies before the token is looked at, and lets
// non-browser clients (no Origin) through to the token check. Host is not
// used for routing: any value is accepted, but it must be there, once.
func TestOriginAndHost(t *testing.T) {
	tg := startTarget(t, "epoll", nil)
	tg.attack(t, func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			user   string
			header string
			status int
		}{
			{"allowed origin", "mallory", "Origin: " + allowedOrigin, 101},
			{"allowed origin, other case", "mallory", "Origin: HTTPS://CHAT.EXAMPLE", 101},
			{"no origin (not a browser)", "mallory", "", 101},
			{"foreign origin", "mallory", "Origin: https://evil.example", 403},
			{"foreign origin without a token", "", "Origin: https://evil.example", 403},
			{"origin null (sandboxed page)", "mallory", "Origin: null", 403},
			{"allowed origin as a suffix", "mallory", "Origin: https://chat.example.evil.example", 403},
			{"allowed origin with a path", "mallory", "Origin: https://chat.example/", 403},
			{"allowed origin, explicit port", "mallory", "Origin: https://chat.example:443", 403},
			{"allowed origin over http", "mallory", "Origin: http://chat.example", 403},
			{"empty origin header", "mallory", "Origin:", 101},
			{"any Host", "mallory", "X-Ignore: host below", 101},
		} {
			req := upgradeRequest(tg, t, tc.user)
			if tc.header != "" {
				req = strings.Replace(req, "\r\n\r\n", "\r\n"+tc.header+"\r\n\r\n", 1)
			}
			if tc.name == "any Host" {
				req = strings.Replace(req, "Host: "+tg.addr, "Host: attacker.example", 1)
			}
			resp := tg.httpAnswer(t, "127.0.0.2", []byte(req))
			if resp.StatusCode != tc.status {
				t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
			}
		}
	})
}
