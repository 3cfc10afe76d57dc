package store_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-chat/switchboard/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidRoomID(t *testing.T) {
	cases := []struct {
		id   string
		want bool
	}{
		{"a", true},
		{"lobby", true},
		{"room_2-b", true},
		{"0", true},
		{strings.Repeat("z", 64), true},
		{"", false},
		{strings.Repeat("z", 65), false},
		{"Lobby", false},
		{"a b", false},
		{"a/b", false},
		{"a.b", false},
		{"a:b", false},
		{"é", false},
		{"a\x00", false},
	}
	for _, tc := range cases {
		if got := store.ValidRoomID(tc.id); got != tc.want {
			t.Errorf("ValidRoomID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestRoles(t *testing.T) {
	cases := []struct {
		role  store.Role
		valid bool
		rank  int
	}{
		{store.RoleOwner, true, 3},
		{store.RoleAdmin, true, 2},
		{store.RoleMember, true, 1},
		{"", false, 0},
		{"Owner", false, 0},
		{"guest", false, 0},
	}
	for _, tc := range cases {
		if tc.role.Valid() != tc.valid || tc.role.Rank() != tc.rank {
			t.Errorf("%q: Valid=%v Rank=%d, want %v %d", tc.role, tc.role.Valid(), tc.role.Rank(), tc.valid, tc.rank)
		}
	}
	atLeast := []struct {
		r, min store.Role
		want   bool
	}{
		{store.RoleOwner, store.RoleAdmin, true},
		{store.RoleAdmin, store.RoleAdmin, true},
		{store.RoleMember, store.RoleAdmin, false},
		{store.RoleMember, store.RoleMember, true},
		{store.RoleAdmin, store.RoleOwner, false},
		{"bogus", "bogus", false},
		{"bogus", store.RoleMember, false},
	}
	for _, tc := range atLeast {
		if got := tc.r.AtLeast(tc.min); got != tc.want {
			t.Errorf("%q.AtLeast(%q) = %v, want %v", tc.r, tc.min, got, tc.want)
		}
	}
}

func TestInviteUsable(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name string
		inv  store.Invite
		want bool
	}{
		{"live", store.Invite{Expires: now.Add(time.Minute)}, true},
		{"expired", store.Invite{Expires: now.Add(-time.Minute)}, false},
		{"expires now", store.Invite{Expires: now}, false},
		{"revoked", store.Invite{Expires: now.Add(time.Minute), Revoked: true}, false},
	}
	for _, tc := range cases {
		if got := tc.inv.Usable(now); got != tc.want {
			t.Errorf("%s: Usable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestTrimmedError(t *testing.T) {
	err := fmt.Errorf("replay: %w", &store.TrimmedError{Room: "r", Oldest: 42})
	var te *store.TrimmedError
	if !errors.As(err, &te) || te.Oldest != 42 {
		t.Fatalf("errors.As through a wrap: %v", err)
	}
	if !strings.Contains(err.Error(), "42") || !strings.Contains(err.Error(), `"r"`) {
		t.Fatalf("message %q names neither room nor seq", err)
	}
}
