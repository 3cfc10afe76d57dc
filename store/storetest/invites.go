package storetest

import (
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/store"
)

func testInvites(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRoom(t, s, "club", true, "alice")
	expires := time.Now().Add(time.Hour)

	a, err := s.CreateInvite(ctx, store.Invite{Room: "club", CreatedBy: "alice", Expires: expires, Revoked: true})
	wantErr(t, "CreateInvite", err, nil)
	b, err := s.CreateInvite(ctx, store.Invite{Room: "club", CreatedBy: "alice", Expires: expires})
	wantErr(t, "CreateInvite", err, nil)
	if a.ID == "" || b.ID == "" || a.ID == b.ID {
		t.Fatalf("generated invite ids %q and %q: want distinct, non-empty", a.ID, b.ID)
	}
	if a.Revoked || a.Room != "club" || a.CreatedBy != "alice" {
		t.Fatalf("CreateInvite = %+v: want a fresh, unrevoked invite", a)
	}
	checkTime(t, "Expires", a.Expires.Add(-time.Hour))
	if d := a.Expires.Sub(expires); d < -time.Microsecond || d > 0 {
		t.Fatalf("Expires = %v, want %v to the microsecond", a.Expires, expires)
	}
	if !a.Usable(time.Now()) || a.Usable(expires.Add(time.Second)) {
		t.Fatalf("Usable wrong for %+v", a)
	}

	got, err := s.GetInvite(ctx, a.ID)
	wantErr(t, "GetInvite", err, nil)
	if got.ID != a.ID || got.Room != a.Room || got.CreatedBy != a.CreatedBy || !got.Expires.Equal(a.Expires) || got.Revoked {
		t.Fatalf("GetInvite = %+v, want %+v", got, a)
	}

	wantErr(t, "RevokeInvite", s.RevokeInvite(ctx, a.ID), nil)
	wantErr(t, "RevokeInvite again", s.RevokeInvite(ctx, a.ID), nil)
	got, err = s.GetInvite(ctx, a.ID)
	if err != nil || !got.Revoked || got.Usable(time.Now()) {
		t.Fatalf("after revoke: GetInvite = %+v, %v", got, err)
	}
	// Revoking one leaves the other alone.
	if got, err := s.GetInvite(ctx, b.ID); err != nil || got.Revoked {
		t.Fatalf("other invite = %+v, %v", got, err)
	}

	// A caller-chosen id.
	c, err := s.CreateInvite(ctx, store.Invite{ID: "chosen-id", Room: "club", CreatedBy: "alice", Expires: expires})
	if err != nil || c.ID != "chosen-id" {
		t.Fatalf("CreateInvite(chosen id) = %+v, %v", c, err)
	}
	_, err = s.CreateInvite(ctx, store.Invite{ID: "chosen-id", Room: "club", CreatedBy: "bob", Expires: expires})
	wantErr(t, "CreateInvite(taken id)", err, store.ErrExists)
	if got, _ := s.GetInvite(ctx, "chosen-id"); got.CreatedBy != "alice" {
		t.Fatalf("a rejected CreateInvite changed the invite: %+v", got)
	}
}

func testInviteErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRoom(t, s, "club", true, "alice")
	future := time.Now().Add(time.Hour)
	cases := []struct {
		name string
		inv  store.Invite
		want error
	}{
		{"unknown room", store.Invite{Room: "nope", CreatedBy: "alice", Expires: future}, store.ErrNotFound},
		{"no creator", store.Invite{Room: "club", Expires: future}, store.ErrInvalid},
		{"no expiry", store.Invite{Room: "club", CreatedBy: "alice"}, store.ErrInvalid},
	}
	for _, tc := range cases {
		_, err := s.CreateInvite(ctx, tc.inv)
		wantErr(t, "CreateInvite "+tc.name, err, tc.want)
	}
	_, err := s.GetInvite(ctx, "missing")
	wantErr(t, "GetInvite(missing)", err, store.ErrNotFound)
	wantErr(t, "RevokeInvite(missing)", s.RevokeInvite(ctx, "missing"), store.ErrNotFound)
}
