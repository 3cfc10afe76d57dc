package auth

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/switchboard-chat/switchboard/protocol"
)

func benchVerify(b *testing.B, cfg Config, method jwt.SigningMethod, key any) {
	b.Helper()
	v := newTestVerifier(b, cfg)
	tok := []byte(sign(b, method, key, validClaims()))
	b.ReportAllocs()
	b.SetBytes(int64(len(tok)))
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyHS256(b *testing.B) {
	benchVerify(b, Config{Secret: testSecret}, jwt.SigningMethodHS256, testSecret)
}

func BenchmarkVerifyRS256(b *testing.B) {
	k := rsaKeys(b)
	benchVerify(b, Config{PublicKeyPEM: k.publicPEM}, jwt.SigningMethodRS256, k.private)
}

func BenchmarkVerifyEdDSA(b *testing.B) {
	k := edKeys(b)
	benchVerify(b, Config{PublicKeyPEM: k.publicPEM}, jwt.SigningMethodEdDSA, k.private)
}

func BenchmarkTokenFromRequest(b *testing.B) {
	tok := sign(b, jwt.SigningMethodHS256, testSecret, validClaims())
	reqs := map[string]*protocol.Request{
		"header":      request("Bearer "+tok, "", ""),
		"subprotocol": request("", "switchboard.v1, bearer."+tok, ""),
		"query":       request("", "", "room=lobby&token="+tok),
	}
	for name, req := range reqs {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if t, _ := TokenFromRequest(req); len(t) == 0 {
					b.Fatal("no token")
				}
			}
		})
	}
}
