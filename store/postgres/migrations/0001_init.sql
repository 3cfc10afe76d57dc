-- switchboard schema, version 1.
--
-- Rooms carry their last assigned seq: the append transaction locks the room
-- row, reads last_seq, inserts the messages and writes last_seq back, so
-- seqs are gapless and a room's commit order is its seq order.

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
    created_at timestamptz NOT NULL,
    -- The highest seq assigned, and its TS: a room's TS never goes back.
    last_seq   bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    last_ts    timestamptz NOT NULL DEFAULT 'epoch'
);

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
