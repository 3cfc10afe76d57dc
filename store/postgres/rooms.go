package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-chat/switchboard/store"
)

const addUserSQL = `INSERT INTO users (id) VALUES ($1) ON CONFLICT DO NOTHING`

// CreateRoom stores the room, its creator as user and as owner, in one
// transaction. See store.Rooms.
func (s *Store) CreateRoom(ctx context.Context, r store.Room) (store.Room, error) {
	if !store.ValidRoomID(r.ID) {
		return store.Room{}, invalid("room id %q", r.ID)
	}
	if r.CreatedBy == "" {
		return store.Room{}, invalid("room %q: empty CreatedBy", r.ID)
	}
	r.CreatedAt = now()
	err := s.call(ctx, "create room", func(ctx context.Context) error {
		// One batch is one implicit transaction: all or nothing.
		b := &pgx.Batch{}
		b.Queue(addUserSQL, r.CreatedBy)
		b.Queue(`INSERT INTO rooms (id, private, created_by, created_at) VALUES ($1, $2, $3, $4)`,
			r.ID, r.Private, r.CreatedBy, r.CreatedAt)
		b.Queue(`INSERT INTO room_seqs (pk) SELECT pk FROM rooms WHERE id = $1`, r.ID)
		b.Queue(`INSERT INTO memberships (room_id, user_id, role, joined_at) VALUES ($1, $2, 'owner', $3)`,
			r.ID, r.CreatedBy, r.CreatedAt)
		err := s.pool.SendBatch(ctx, b).Close()
		if pgCode(err) == codeUniqueViolation {
			return fmt.Errorf("postgres: room %q: %w", r.ID, store.ErrExists)
		}
		return err
	})
	if err != nil {
		return store.Room{}, err
	}
	return r, nil
}

// GetRoom returns the room. See store.Rooms.
func (s *Store) GetRoom(ctx context.Context, id string) (store.Room, error) {
	var r store.Room
	err := s.call(ctx, "get room", func(ctx context.Context) error {
		err := s.pool.QueryRow(ctx, `SELECT id, private, created_by, created_at FROM rooms WHERE id = $1`, id).
			Scan(&r.ID, &r.Private, &r.CreatedBy, &r.CreatedAt)
		return rowsOrNotFound(err, "room", id)
	})
	r.CreatedAt = r.CreatedAt.UTC()
	return r, err
}

// ListRooms pages through the public rooms and user's rooms, merged by id.
// Each side is read by its own index, at most limit+1 rows. See
// store.Rooms.
func (s *Store) ListRooms(ctx context.Context, user, after string, limit int) ([]store.Room, bool, error) {
	if err := checkLimit(limit); err != nil {
		return nil, false, err
	}
	limit = min(limit, maxPage)
	var rooms []store.Room
	err := s.call(ctx, "list rooms", func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, `
			SELECT r.id, r.private, r.created_by, r.created_at FROM rooms r
			WHERE r.id IN (
				(SELECT id FROM rooms WHERE NOT private AND id > $2 ORDER BY id LIMIT $3)
				UNION
				(SELECT room_id FROM memberships WHERE user_id = $1 AND room_id > $2 ORDER BY room_id LIMIT $3))
			ORDER BY r.id LIMIT $3`, user, after, limit+1)
		if err != nil {
			return err
		}
		rooms, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Room, error) {
			var r store.Room
			err := row.Scan(&r.ID, &r.Private, &r.CreatedBy, &r.CreatedAt)
			r.CreatedAt = r.CreatedAt.UTC()
			return r, err
		})
		return err
	})
	if err != nil {
		return nil, false, err
	}
	more := len(rooms) > limit
	return rooms[:min(len(rooms), limit)], more, nil
}

// AddMember adds user with role unless already a member. See
// store.Memberships.
func (s *Store) AddMember(ctx context.Context, room, user string, role store.Role) (store.Member, bool, error) {
	if user == "" {
		return store.Member{}, false, invalid("room %q: empty user", room)
	}
	if !role.Valid() {
		return store.Member{}, false, invalid("role %q", role)
	}
	m := store.Member{User: user}
	var added bool
	err := s.call(ctx, "add member", func(ctx context.Context) error {
		// The insert and the read of an existing membership run on one
		// snapshot; a membership inserted by someone else after it was
		// taken is neither inserted nor seen, and the loop asks again.
		for range 3 {
			b := &pgx.Batch{}
			b.Queue(addUserSQL, user)
			b.Queue(`
				WITH ins AS (
					INSERT INTO memberships (room_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)
					ON CONFLICT DO NOTHING RETURNING role, joined_at)
				SELECT role, joined_at, true FROM ins
				UNION ALL
				SELECT role, joined_at, false FROM memberships WHERE room_id = $1 AND user_id = $2
				LIMIT 1`, room, user, string(role), now())
			br := s.pool.SendBatch(ctx, b)
			_, err := br.Exec()
			if err == nil {
				var r string
				err = br.QueryRow().Scan(&r, &m.Joined, &added)
				m.Role = store.Role(r)
			}
			if cerr := br.Close(); err == nil {
				err = cerr
			}
			switch {
			case pgCode(err) == codeForeignKeyViolation:
				return notFound("room", room)
			case errors.Is(err, pgx.ErrNoRows):
				continue
			}
			return err
		}
		return errors.New("membership changing too fast to read")
	})
	m.Joined = m.Joined.UTC()
	return m, added, err
}

// SetRole changes a member's role. See store.Memberships.
func (s *Store) SetRole(ctx context.Context, room, user string, role store.Role) (store.Member, error) {
	if !role.Valid() {
		return store.Member{}, invalid("role %q", role)
	}
	m := store.Member{User: user, Role: role}
	err := s.call(ctx, "set role", func(ctx context.Context) error {
		err := s.pool.QueryRow(ctx, `UPDATE memberships SET role = $3 WHERE room_id = $1 AND user_id = $2 RETURNING joined_at`,
			room, user, string(role)).Scan(&m.Joined)
		return rowsOrNotFound(err, "member of room "+room, user)
	})
	m.Joined = m.Joined.UTC()
	return m, err
}

// RemoveMember ends a membership; the read cursor stays. See
// store.Memberships.
func (s *Store) RemoveMember(ctx context.Context, room, user string) error {
	return s.call(ctx, "remove member", func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, `DELETE FROM memberships WHERE room_id = $1 AND user_id = $2`, room, user)
		if err == nil && tag.RowsAffected() == 0 {
			return notFound("member of room "+room, user)
		}
		return err
	})
}

// Member returns one membership. See store.Memberships.
func (s *Store) Member(ctx context.Context, room, user string) (store.Member, error) {
	m := store.Member{User: user}
	err := s.call(ctx, "member", func(ctx context.Context) error {
		var role string
		err := s.pool.QueryRow(ctx, `SELECT role, joined_at FROM memberships WHERE room_id = $1 AND user_id = $2`,
			room, user).Scan(&role, &m.Joined)
		m.Role = store.Role(role)
		return rowsOrNotFound(err, "member of room "+room, user)
	})
	m.Joined = m.Joined.UTC()
	return m, err
}

// Members pages through a room's members by user. See store.Memberships.
func (s *Store) Members(ctx context.Context, room, after string, limit int) ([]store.Member, bool, error) {
	if err := checkLimit(limit); err != nil {
		return nil, false, err
	}
	limit = min(limit, maxPage)
	var members []store.Member
	err := s.call(ctx, "members", func(ctx context.Context) error {
		return s.roomRows(ctx, room, func(rows pgx.Rows) error {
			var (
				user, role *string
				joined     *time.Time
			)
			if err := rows.Scan(&user, &role, &joined); err != nil {
				return err
			}
			if user != nil {
				members = append(members, store.Member{User: *user, Role: store.Role(*role), Joined: joined.UTC()})
			}
			return nil
		}, `
			SELECT m.user_id, m.role, m.joined_at FROM rooms r
			LEFT JOIN LATERAL (
				SELECT user_id, role, joined_at FROM memberships
				WHERE room_id = r.id AND user_id > $2 ORDER BY user_id LIMIT $3) m ON true
			WHERE r.id = $1`, room, after, limit+1)
	})
	if err != nil {
		return nil, false, err
	}
	more := len(members) > limit
	return members[:min(len(members), limit)], more, nil
}

// MemberCount counts a room's members. See store.Memberships.
func (s *Store) MemberCount(ctx context.Context, room string) (int, error) {
	var n int
	err := s.call(ctx, "member count", func(ctx context.Context) error {
		err := s.pool.QueryRow(ctx,
			`SELECT (SELECT count(*) FROM memberships WHERE room_id = r.id) FROM rooms r WHERE r.id = $1`, room).Scan(&n)
		return rowsOrNotFound(err, "room", room)
	})
	return n, err
}

// SetReadCursor moves a read cursor forward: the upsert changes the row
// only when seq is higher, so racing updates keep the highest and exactly
// the raising ones report advanced. See store.ReadCursors.
func (s *Store) SetReadCursor(ctx context.Context, room, user string, seq uint64) (bool, error) {
	if user == "" {
		return false, invalid("room %q: empty user", room)
	}
	if seq > math.MaxInt64 {
		return false, invalid("room %q: read cursor %d out of range", room, seq)
	}
	var advanced bool
	err := s.call(ctx, "set read cursor", func(ctx context.Context) error {
		if seq == 0 { // never above any cursor; only the room must exist
			var one int
			return rowsOrNotFound(s.pool.QueryRow(ctx, `SELECT 1 FROM rooms WHERE id = $1`, room).Scan(&one), "room", room)
		}
		tag, err := s.pool.Exec(ctx, `
			INSERT INTO read_cursors (room_id, user_id, seq) VALUES ($1, $2, $3)
			ON CONFLICT (room_id, user_id) DO UPDATE SET seq = excluded.seq
			WHERE read_cursors.seq < excluded.seq`, room, user, int64(seq))
		if pgCode(err) == codeForeignKeyViolation {
			return notFound("room", room)
		}
		advanced = err == nil && tag.RowsAffected() == 1
		return err
	})
	return advanced, err
}

// ReadCursor returns a read cursor, 0 when never set. See
// store.ReadCursors.
func (s *Store) ReadCursor(ctx context.Context, room, user string) (uint64, error) {
	var seq int64
	err := s.call(ctx, "read cursor", func(ctx context.Context) error {
		err := s.pool.QueryRow(ctx, `
			SELECT coalesce((SELECT seq FROM read_cursors WHERE room_id = r.id AND user_id = $2), 0)
			FROM rooms r WHERE r.id = $1`, room, user).Scan(&seq)
		return rowsOrNotFound(err, "room", room)
	})
	return uint64(seq), err
}
