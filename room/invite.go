package room

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// inviteSigner makes and checks invite tokens: "<id>.<room>.<expiry unix>.<mac>",
// the MAC an HMAC-SHA256 over the first three fields. The token proves the
// server issued it for that room until that time; revocation is the store's
// record of the id, checked on every use.
type inviteSigner struct {
	secret []byte
}

func (s inviteSigner) mac(payload string) string {
	h := hmac.New(sha256.New, s.secret)
	h.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

func (s inviteSigner) sign(id, room string, expires time.Time) string {
	payload := id + "." + room + "." + strconv.FormatInt(expires.Unix(), 10)
	return payload + "." + s.mac(payload)
}

// verify checks the token's MAC, room and expiry and returns the invite id.
func (s inviteSigner) verify(token, room string, now time.Time) (string, bool) {
	id, exp, ok := s.open(token, room)
	if !ok || !now.Before(exp) {
		return "", false
	}
	return id, true
}

// open checks the token's MAC and room, whatever its expiry, and returns the
// invite id and expiry.
func (s inviteSigner) open(token, room string) (string, time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[1] != room {
		return "", time.Time{}, false
	}
	payload := parts[0] + "." + parts[1] + "." + parts[2]
	if !hmac.Equal([]byte(s.mac(payload)), []byte(parts[3])) {
		return "", time.Time{}, false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return "", time.Time{}, false
	}
	return parts[0], time.Unix(exp, 0), true
}

// randomID is 128 random bits in hex.
func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
