-- switchboard schema, version 1.
--
-- Each room's last assigned seq lives in room_seqs: the append transaction
-- locks that row, reads last_seq, inserts the messages and writes last_seq
-- back, so seqs are gapless and a room's commit order is its seq order.

CREATE TABLE users (
    id         text PRIMARY KEY,
    first_seen timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rooms (
    -- pk is the compact key messages use; id is the public name.
    pk         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id         text PRIMARY KEY CHECK (id ~ '^[a-z0-9_-]{1,64}$'),
    private    boolean NOT NULL,
    created_by text NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL
);

-- One row per room, updated by every append transaction: a busy room's row
-- is rewritten thousands of times a second. It is kept narrow and in its
-- own table, with most of each page left free, so every update is a HOT
-- update (no index entry) and the dead versions are pruned from the page as
-- it goes; in rooms itself the churn would bloat the room id index and slow
-- every lookup of the room.
CREATE TABLE room_seqs (
    pk       bigint PRIMARY KEY REFERENCES rooms (pk),
    -- The highest seq assigned, and its TS: a room's TS never goes back.
    last_seq bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    last_ts  timestamptz NOT NULL DEFAULT 'epoch'
) WITH (fillfactor = 10);

-- ListRooms walks public rooms by id.
CREATE INDEX rooms_public_id ON rooms (id) WHERE NOT private;

CREATE TABLE memberships (
    room_id   text NOT NULL REFERENCES rooms (id),
    user_id   text NOT NULL REFERENCES users (id),
    role      text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at timestamptz NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

-- ListRooms finds a user's rooms.
CREATE INDEX memberships_user_room ON memberships (user_id, room_id);

CREATE TABLE invites (
    id         text PRIMARY KEY,
    room_id    text NOT NULL REFERENCES rooms (id),
    created_by text NOT NULL,
    expires    timestamptz NOT NULL,
    revoked    boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX invites_room ON invites (room_id);

CREATE TABLE messages (
    -- No foreign key: the append transaction takes room_pk from the room row
    -- it holds locked, rooms are never deleted, and a per-row FK trigger
    -- would be most of the cost of an insert.
    room_pk   bigint NOT NULL,
    seq       bigint NOT NULL CHECK (seq > 0),
    client_id text NOT NULL,
    sender    text NOT NULL,
    -- The JSON value byte for byte, as the client sent it: bytea keeps it
    -- exact and costs no parse on the hot path.
    body      bytea NOT NULL,
    ts        timestamptz NOT NULL,
    PRIMARY KEY (room_pk, seq),
    -- Retries: one message per (room, sender, client id).
    UNIQUE (room_pk, sender, client_id)
);

CREATE TABLE read_cursors (
    room_id text NOT NULL REFERENCES rooms (id),
    user_id text NOT NULL,
    seq     bigint NOT NULL CHECK (seq > 0),
    PRIMARY KEY (room_id, user_id)
);

-- switchboard_append stores a batch of messages in one statement. The
-- caller sends each (room, sender, client id) at most once per batch. It
-- locks the batch's rooms in id order (two batches sharing rooms queue
-- instead of deadlocking); then, on a snapshot taken after the locks were
-- granted (so it sees every append that held those rooms before), it looks
-- each message up, numbers the ones not stored yet per room from last_seq
-- in input order, inserts them and advances the rooms. A retry never takes
-- a seq. Each input row whose room exists comes back once, by its 1-based
-- position: o_duplicate false with its new seq and TS, or true with the
-- stored seq, TS and body. Rows of unknown rooms do not come back. The TS
-- is the database clock's, never below the room's last_ts, so a room's TS
-- never goes back as seq grows.
--
-- Every step is an index lookup per input row, whatever the statistics say:
-- a plan made while the tables were empty (a new database, a cached generic
-- plan) must not scan messages, so scans and hash/merge joins are off here.
CREATE FUNCTION switchboard_append(p_rooms text[], p_senders text[], p_ids text[], p_bodies bytea[])
RETURNS TABLE (o_ord integer, o_seq bigint, o_ts timestamptz, o_duplicate boolean, o_body bytea)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $fn$
DECLARE
    v_now timestamptz;
BEGIN
    -- NO KEY UPDATE is what the UPDATE below takes anyway.
    PERFORM 1 FROM rooms r JOIN room_seqs q ON q.pk = r.pk
    WHERE r.id = ANY (p_rooms) ORDER BY r.id FOR NO KEY UPDATE OF q;
    v_now := date_trunc('microseconds', clock_timestamp());
    RETURN QUERY
    WITH input AS (
        SELECT i.ord::integer AS ord, r.pk, q.last_seq, greatest(v_now, q.last_ts) AS ts,
               i.sender, i.client_id, i.body, m.seq AS old_seq, m.ts AS old_ts, m.body AS old_body
        FROM unnest(p_rooms, p_senders, p_ids, p_bodies) WITH ORDINALITY AS i(room, sender, client_id, body, ord)
        JOIN rooms r ON r.id = i.room
        JOIN room_seqs q ON q.pk = r.pk
        LEFT JOIN messages m ON m.room_pk = r.pk AND m.sender = i.sender AND m.client_id = i.client_id
    ), numbered AS (
        SELECT i.ord, i.pk, i.sender, i.client_id, i.body, i.ts,
               i.last_seq + row_number() OVER (PARTITION BY i.pk ORDER BY i.ord) AS seq
        FROM input i
        WHERE i.old_seq IS NULL
    ), ins AS (
        INSERT INTO messages (room_pk, seq, client_id, sender, body, ts)
        SELECT n.pk, n.seq, n.client_id, n.sender, n.body, n.ts FROM numbered n
    ), upd AS (
        UPDATE room_seqs q SET last_seq = x.seq, last_ts = x.ts
        FROM (SELECT n.pk, max(n.seq) AS seq, max(n.ts) AS ts FROM numbered n GROUP BY n.pk) x
        WHERE q.pk = x.pk
    )
    SELECT n.ord, n.seq, n.ts, false, NULL::bytea FROM numbered n
    UNION ALL
    SELECT i.ord, i.old_seq, i.old_ts, true, i.old_body FROM input i WHERE i.old_seq IS NOT NULL;
END
$fn$;
