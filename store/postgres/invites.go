package postgres

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/switchboard-chat/switchboard/store"
)

// CreateInvite stores an invite, generating its id when empty. See
// store.Invites.
func (s *Store) CreateInvite(ctx context.Context, inv store.Invite) (store.Invite, error) {
	if inv.CreatedBy == "" {
		return store.Invite{}, invalid("invite for room %q: empty CreatedBy", inv.Room)
	}
	if inv.Expires.IsZero() {
		return store.Invite{}, invalid("invite for room %q: zero Expires", inv.Room)
	}
	if inv.ID == "" {
		inv.ID = rand.Text()
	}
	inv.Expires = inv.Expires.UTC().Truncate(time.Microsecond)
	inv.Revoked = false
	err := s.call(ctx, "create invite", func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `INSERT INTO invites (id, room_id, created_by, expires) VALUES ($1, $2, $3, $4)`,
			inv.ID, inv.Room, inv.CreatedBy, inv.Expires)
		switch pgCode(err) {
		case codeForeignKeyViolation:
			return notFound("room", inv.Room)
		case codeUniqueViolation:
			return fmt.Errorf("postgres: invite %q: %w", inv.ID, store.ErrExists)
		}
		return err
	})
	if err != nil {
		return store.Invite{}, err
	}
	return inv, nil
}

// GetInvite returns an invite. Expired invites are kept (an operator may
// purge them). See store.Invites.
func (s *Store) GetInvite(ctx context.Context, id string) (store.Invite, error) {
	inv := store.Invite{ID: id}
	err := s.call(ctx, "get invite", func(ctx context.Context) error {
		err := s.pool.QueryRow(ctx, `SELECT room_id, created_by, expires, revoked FROM invites WHERE id = $1`, id).
			Scan(&inv.Room, &inv.CreatedBy, &inv.Expires, &inv.Revoked)
		return rowsOrNotFound(err, "invite", id)
	})
	if err != nil {
		return store.Invite{}, err
	}
	inv.Expires = inv.Expires.UTC()
	return inv, nil
}

// RevokeInvite marks an invite revoked. See store.Invites.
func (s *Store) RevokeInvite(ctx context.Context, id string) error {
	return s.call(ctx, "revoke invite", func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, `UPDATE invites SET revoked = true WHERE id = $1`, id)
		if err == nil && tag.RowsAffected() == 0 {
			return notFound("invite", id)
		}
		return err
	})
}
