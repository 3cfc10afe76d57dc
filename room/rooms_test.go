package room

import (
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard/engine"
)

// TestRoomsListsVisibleRoomsPaged: public rooms and the user's own private
// rooms, in id order, paged by after, with the users online in each.
func TestRoomsListsVisibleRoomsPaged(t *testing.T) {
	s := startServer(t, func(_ *engine.Config, c *Config) { unlimited(c) })
	alice, bob := s.dial(t, "alice"), s.dial(t, "bob")
	for _, r := range []string{"c-pub", "a-pub", "e-pub"} {
		alice.send(fmt.Sprintf(`{"type":"create","room":%q}`, r))
		alice.expect("created")
	}
	alice.send(`{"type":"create","room":"b-alice","private":true}`)
	alice.expect("created")
	bob.send(`{"type":"create","room":"d-bob","private":true}`)
	bob.expect("created")
	alice.send(`{"type":"join","room":"c-pub"}`)
	alice.expect("joined")
	bob.send(`{"type":"join","room":"c-pub"}`)
	bob.expect("joined")

	list := func(cl *client) (names []string, online map[string]float64) {
		online = map[string]float64{}
		after := ""
		for {
			cl.send(fmt.Sprintf(`{"type":"rooms","after":%q,"limit":2}`, after))
			page := cl.expect("rooms")
			rooms := page["rooms"].([]any)
			for _, r := range rooms {
				rm := r.(map[string]any)
				name := rm["room"].(string)
				if rm["private"] == true {
					name += "(private)"
				}
				names = append(names, name)
				online[rm["room"].(string)] = rm["online"].(float64)
				after = rm["room"].(string)
			}
			if page["more"] != true {
				return names, online
			}
			if len(rooms) == 0 {
				t.Fatal("more without rooms")
			}
		}
	}
	names, online := list(alice)
	if got := strings.Join(names, ","); got != "a-pub,b-alice(private),c-pub,e-pub" {
		t.Fatalf("alice sees %s", got)
	}
	if online["c-pub"] != 2 || online["a-pub"] != 0 {
		t.Fatalf("online %v, want 2 in c-pub and 0 in a-pub", online)
	}
	if names, _ := list(bob); strings.Join(names, ",") != "a-pub,c-pub,d-bob(private),e-pub" {
		t.Fatalf("bob sees %v", names)
	}
	alice.send(`{"type":"rooms","limit":-1,"ref":"neg"}`)
	alice.expectError("bad_request")
}
