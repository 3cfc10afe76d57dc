package adversarial

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/room"
)

// inviteSecret is the chat target's invite key, so tests can forge tokens
// with a valid MAC for ids and expiries the server never issued.
var inviteSecret = []byte("adversarial-invite-secret-0123456789")

// chatTarget lifts the per-connection rate limits (tested in room/) so
// one attacker can try every frame in a row.
func chatTarget(t *testing.T) *target {
	return startTarget(t, "epoll", func(_ *engine.Config, c *room.Config) {
		c.RatePerSecond, c.RateBurst, c.UserRatePerSecond, c.UserRateBurst = 1e6, 1e6, 1e6, 1e6
		c.InviteSecret = inviteSecret
	})
}

// signInvite makes an invite token the way the server does.
func signInvite(secret []byte, id, room string, expires time.Time) string {
	payload := id + "." + room + "." + strconv.FormatInt(expires.Unix(), 10)
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(payload))
	return payload + "." + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// refusal is a frame and the error code it must get.
type refusal struct{ frame, code string }

// expectRefusals sends each frame and checks its error code in turn.
func (wc *wsConn) expectRefusals(cases []refusal) {
	wc.t.Helper()
	for _, tc := range cases {
		wc.send(tc.frame)
		if f := wc.expect("error"); f["code"] != tc.code {
			wc.t.Fatalf("%.80s: %v, want %s", tc.frame, f, tc.code)
		}
	}
}

// owner connects user "owner" from 127.0.0.3 and creates (and, if join,
// joins) room.
func (tg *target) owner(t *testing.T, room string, private, join bool) *wsConn {
	t.Helper()
	o := tg.open(t, "127.0.0.3", "owner")
	o.send(fmt.Sprintf(`{"type":"create","room":%q,"private":%v}`, room, private))
	o.expect("created")
	if join {
		o.send(fmt.Sprintf(`{"type":"join","room":%q}`, room))
		o.expect("joined")
	}
	return o
}

// TestHostileChatFrames: malformed JSON, deep nesting, huge arrays and
// strings, unknown types: each gets its error frame, the connection stays
// open, and a valid frame afterwards works.
func TestHostileChatFrames(t *testing.T) {
	tg := chatTarget(t)
	hugeArray := "[" + strings.Repeat("0,", 400_000) + "0]"
	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	deepObj := strings.Repeat(`{"a":`, 20_000) + "1" + strings.Repeat("}", 20_000)
	cases := []refusal{
		{`not json`, "bad_request"},
		{`{"type":"join","room":"square"`, "bad_request"},
		{`{"type":"join","room":"square"}}`, "bad_request"},
		{`[{"type":"join","room":"square"}]`, "bad_request"},
		{`"join"`, "bad_request"},
		{`null`, "bad_request"},
		{`{"type":"join","room":"square"} {"type":"leave"}`, "bad_request"},
		{`{"type":"join","room":"sq\u0000uare"}`, "bad_request"},
		{`{"type":"join","room":"../etc"}`, "bad_request"},
		{`{"type":"join","room":"Square"}`, "bad_request"},
		{`{"type":"join","room":"` + strings.Repeat("r", 1<<20-40) + `"}`, "bad_request"},
		{`{"type":"join","room":["square"]}`, "bad_request"},
		{`{"type":"join","room":"square","since":-1}`, "bad_request"},
		{`{"type":"join","room":"square","since":1e400}`, "bad_request"},
		{`{"type":"join","room":"square","since":18446744073709551616}`, "bad_request"},
		{`{"type":"history","room":"square","limit":-5}`, "bad_request"},
		{`{"type":"publish","room":"square","id":"x","body":` + deep + `}`, "bad_request"},
		{`{"type":"publish","room":"square","id":"x","body":` + deepObj + `}`, "bad_request"},
		{`{"type":"leave","room":"square","junk":` + deep + `}`, "bad_request"},
		{`{"type":"publish","room":"square","id":"x","body":` + hugeArray + `}`, "too_large"},
		{`{"type":"leave","room":"square","junk":` + hugeArray + `}`, "not_joined"}, // unknown fields are ignored
		{`{"type":"teleport"}`, "unknown_type"},
		{`{"type":"JOIN","room":"square"}`, "unknown_type"},
		{`{"type":"__proto__"}`, "unknown_type"},
		{`{"type":""}`, "bad_request"},
		{`{"type":7}`, "bad_request"},
		{`{"type":"join","room":"square","ref":"` + strings.Repeat("r", 200) + `"}`, "bad_request"},
	}
	tg.attack(t, func(t *testing.T) {
		owner := tg.owner(t, "square", false, false)
		m := tg.open(t, "127.0.0.2", "mallory")
		for _, tc := range cases {
			m.send(tc.frame)
			f := m.expect("error")
			if f["code"] != tc.code {
				t.Fatalf("%.60s: %v, want %s", tc.frame, f, tc.code)
			}
			if ref, ok := f["ref"].(string); ok && len(ref) > 64 {
				t.Fatalf("error echoes a %d-byte ref", len(ref))
			}
			if len(f["message"].(string)) > 200 {
				t.Fatalf("error message of %d bytes: it must not echo input", len(f["message"].(string)))
			}
		}
		m.send(`{"type":"join","room":"square"}`)
		m.expect("joined")
		m.c.Close()
		owner.c.Close()
	})
}

// TestForgedFields: from, seq, ts and user on a publish are not the
// client's to set: the server ignores them and stamps its own.
func TestForgedFields(t *testing.T) {
	tg := chatTarget(t)
	tg.attack(t, func(t *testing.T) {
		owner := tg.owner(t, "square", false, true)
		m := tg.open(t, "127.0.0.2", "mallory")
		m.send(`{"type":"join","room":"square"}`)
		m.expect("joined")
		m.send(`{"type":"publish","room":"square","id":"f1","body":{"text":"hi"},"from":"owner","user":"owner",` +
			`"seq":999,"ts":"1999-01-01T00:00:00Z","type2":"ack"}`)
		ack := m.expect("ack")
		msg := owner.expect("message")
		if ack["seq"] != float64(1) || msg["seq"] != float64(1) || msg["from"] != "mallory" ||
			strings.HasPrefix(msg["ts"].(string), "1999") {
			t.Fatalf("forged publish: ack %v, delivered %v; want seq 1 from mallory with a server ts", ack, msg)
		}
		m.send(`{"type":"read","room":"square","seq":1,"user":"owner"}`)
		if r := owner.expect("read"); r["user"] != "mallory" {
			t.Fatalf("read receipt %v: forged user", r)
		}
		m.c.Close()
		owner.c.Close()
	})
}

// TestPrivateRoomAndInviteAttacks: a private room is closed to
// non-members for every action; invite tokens forged, tampered, moved to
// another room, expired, unknown, or replayed after revocation are
// refused.
func TestPrivateRoomAndInviteAttacks(t *testing.T) {
	tg := chatTarget(t)
	tg.attack(t, func(t *testing.T) {
		owner := tg.owner(t, "vault", true, true)
		owner.send(`{"type":"create","room":"den","private":true}`)
		owner.expect("created")
		owner.send(`{"type":"invite","room":"vault","ttl":3600}`)
		token := owner.expect("invite")["token"].(string)
		owner.send(`{"type":"invite","room":"den"}`)
		denToken := owner.expect("invite")["token"].(string)

		m := tg.open(t, "127.0.0.2", "mallory")
		m.expectRefusals([]refusal{
			{`{"type":"join","room":"vault"}`, "forbidden"},
			{`{"type":"publish","room":"vault","id":"x","body":1}`, "not_joined"},
			{`{"type":"history","room":"vault"}`, "not_joined"},
			{`{"type":"members","room":"vault"}`, "not_joined"},
			{`{"type":"typing","room":"vault"}`, "not_joined"},
			{`{"type":"read","room":"vault","seq":1}`, "not_joined"},
			{`{"type":"leave","room":"vault"}`, "not_joined"},
			{`{"type":"invite","room":"vault"}`, "forbidden"},
			{`{"type":"role","room":"vault","user":"mallory2","role":"admin"}`, "forbidden"},
			{`{"type":"kick","room":"vault","user":"owner"}`, "forbidden"},
			{fmt.Sprintf(`{"type":"revoke","room":"vault","invite":%q}`, token), "forbidden"},
			{`{"type":"create","room":"vault"}`, "exists"},
		})
		parts := strings.Split(token, ".")
		forged := []struct{ name, token string }{
			{"MAC changed", token[:len(token)-1] + map[bool]string{true: "A", false: "B"}[token[len(token)-1] != 'A']},
			{"room changed, MAC kept", parts[0] + ".den." + parts[2] + "." + parts[3]},
			{"expiry pushed, MAC kept", parts[0] + ".vault." + strconv.FormatInt(time.Now().Add(1000*time.Hour).Unix(), 10) + "." + parts[3]},
			{"another room's token", denToken},
			{"signed with another key", signInvite([]byte("not-the-server-secret-0123456789"), parts[0], "vault", time.Now().Add(time.Hour))},
			{"expired, valid MAC", signInvite(inviteSecret, parts[0], "vault", time.Now().Add(-time.Second))},
			{"unknown id, valid MAC", signInvite(inviteSecret, "00000000000000000000000000000000", "vault", time.Now().Add(time.Hour))},
			{"garbage", "a.b.c.d"},
			{"empty fields", "..."},
			{"huge", strings.Repeat("A", 60<<10)},
		}
		for _, f := range forged {
			m.send(fmt.Sprintf(`{"type":"join","room":"vault","invite":%q}`, f.token))
			if e := m.expect("error"); e["code"] != "forbidden" {
				t.Fatalf("invite %s: %v, want forbidden", f.name, e)
			}
		}
		// Replay after revocation: the genuine token works once issued...
		eve := tg.open(t, "127.0.0.4", "eve")
		eve.send(fmt.Sprintf(`{"type":"join","room":"vault","invite":%q}`, token))
		eve.expect("joined")
		owner.send(fmt.Sprintf(`{"type":"revoke","room":"vault","invite":%q}`, token))
		owner.expect("revoked")
		// ...and not after, for anyone who is not already a member.
		m.send(fmt.Sprintf(`{"type":"join","room":"vault","invite":%q}`, token))
		m.expectError("forbidden")
		for _, c := range []*wsConn{m, eve, owner} {
			c.c.Close()
		}
	})
}

// TestRoleEscalation: members cannot grant roles, take ownership, kick
// their betters or re-create a room to own it; admins cannot promote.
func TestRoleEscalation(t *testing.T) {
	tg := chatTarget(t)
	tg.attack(t, func(t *testing.T) {
		owner := tg.owner(t, "square", false, false)
		users := map[string]*wsConn{"owner": owner}
		for i, u := range []string{"mallory", "eve", "trent"} {
			users[u] = tg.open(t, fmt.Sprintf("127.0.0.%d", 4+i), u)
		}
		for _, u := range []string{"owner", "mallory", "eve", "trent"} {
			users[u].send(`{"type":"join","room":"square"}`)
			users[u].expect("joined")
		}
		m := users["mallory"]
		m.expectRefusals([]refusal{
			{`{"type":"role","room":"square","user":"mallory","role":"admin"}`, "bad_request"}, // oneself
			{`{"type":"role","room":"square","user":"eve","role":"admin"}`, "forbidden"},
			{`{"type":"role","room":"square","user":"eve","role":"owner"}`, "bad_request"},
			{`{"type":"role","room":"square","user":"eve","role":"god"}`, "bad_request"},
			{`{"type":"kick","room":"square","user":"owner"}`, "forbidden"},
			{`{"type":"kick","room":"square","user":"eve"}`, "forbidden"},
			{`{"type":"invite","room":"square"}`, "forbidden"},
			{`{"type":"create","room":"square"}`, "exists"},
		})
		// As an admin, mallory still cannot promote or touch the owner.
		owner.send(`{"type":"role","room":"square","user":"mallory","role":"admin"}`)
		m.expect("role")
		owner.send(`{"type":"role","room":"square","user":"trent","role":"admin"}`)
		m.expect("role")
		m.expectRefusals([]refusal{
			{`{"type":"role","room":"square","user":"eve","role":"admin"}`, "forbidden"},
			{`{"type":"role","room":"square","user":"owner","role":"member"}`, "forbidden"},
			{`{"type":"kick","room":"square","user":"owner"}`, "forbidden"},
			{`{"type":"kick","room":"square","user":"trent"}`, "forbidden"}, // another admin
			{`{"type":"kick","room":"square","user":"nobody"}`, "not_found"},
		})
		for _, c := range users {
			c.c.Close()
		}
	})
}
