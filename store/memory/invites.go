package memory

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/switchboard-chat/switchboard/store"
)

// minSweep is the invite count below which expired invites are not purged.
const minSweep = 1024

// CreateInvite stores an invite, generating its id when empty. See
// store.Invites.
func (s *Store) CreateInvite(ctx context.Context, inv store.Invite) (store.Invite, error) {
	if err := s.begin(ctx); err != nil {
		return store.Invite{}, err
	}
	if inv.CreatedBy == "" {
		return store.Invite{}, invalid("invite for room %q: empty CreatedBy", inv.Room)
	}
	if inv.Expires.IsZero() {
		return store.Invite{}, invalid("invite for room %q: zero Expires", inv.Room)
	}
	if _, err := s.lookup(inv.Room); err != nil {
		return store.Invite{}, err
	}
	if inv.ID == "" {
		inv.ID = rand.Text()
	}
	inv.Expires = inv.Expires.UTC().Truncate(time.Microsecond)
	inv.Revoked = false

	s.invitesMu.Lock()
	defer s.invitesMu.Unlock()
	if _, ok := s.invites[inv.ID]; ok {
		return store.Invite{}, fmt.Errorf("memory: invite %q: %w", inv.ID, store.ErrExists)
	}
	if len(s.invites) >= s.sweepAt {
		s.purgeExpiredInvites()
	}
	s.invites[inv.ID] = inv
	return inv, nil
}

// purgeExpiredInvites drops invites that can never admit anyone again. It
// runs when the map has doubled since the last sweep, so its cost is
// amortised over the inserts. The caller holds invitesMu.
func (s *Store) purgeExpiredInvites() {
	t := now()
	for id, inv := range s.invites {
		if !t.Before(inv.Expires) {
			delete(s.invites, id)
		}
	}
	s.sweepAt = max(minSweep, 2*len(s.invites))
}

// GetInvite returns an invite. See store.Invites.
func (s *Store) GetInvite(ctx context.Context, id string) (store.Invite, error) {
	if err := s.begin(ctx); err != nil {
		return store.Invite{}, err
	}
	s.invitesMu.Lock()
	inv, ok := s.invites[id]
	s.invitesMu.Unlock()
	if !ok {
		return store.Invite{}, notFound("invite", id)
	}
	return inv, nil
}

// RevokeInvite marks an invite revoked. See store.Invites.
func (s *Store) RevokeInvite(ctx context.Context, id string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	s.invitesMu.Lock()
	defer s.invitesMu.Unlock()
	inv, ok := s.invites[id]
	if !ok {
		return notFound("invite", id)
	}
	inv.Revoked = true
	s.invites[id] = inv
	return nil
}
