-- switchboard schema, version 3: appends without per-message lookups, and
-- byte-order text keys for messages.
--
-- switchboard_append (versions 1 and 2) pays, for every message, an index
-- probe of rooms, one of room_seqs and one of messages (the duplicate
-- lookup) before the insert, numbers the batch with a sort, and locks each
-- room's counter row before updating it (two WAL records per room). Nearly
-- every message is new, and the unique (room, sender, client id) index
-- checks that anyway as the row goes in. So the client groups the batch by
-- room and numbers it: the rooms once each (p_rooms) with their message
-- counts (p_counts), and for every message its room (a 1-based position in
-- p_rooms) and its 1-based offset among that room's messages, in batch
-- order. switchboard_append_grouped then advances each room's counter by
-- its count in one UPDATE (which takes the row lock, in room id order, so
-- two batches sharing rooms queue rather than deadlock, and reads the row
-- as the previous holder committed it), inserts every message of a known
-- room at seq = old last_seq + offset, and returns one row per known room:
-- its position, the last seq before the batch and the batch's TS. Rooms
-- that do not exist do not come back and their messages are not stored.
-- The seq and TS rules are switchboard_append's: gapless, commit order is
-- seq order, a room's TS never goes back.
--
-- A message of the batch stored already fails the whole statement with
-- unique_violation, nothing is written, and the client sends the batch again
-- through switchboard_append, which finds the duplicates under the same
-- locks before numbering (a retry never burns a seq). switchboard_append
-- stays for that, and for an instance of the previous build during a
-- rolling upgrade.
--
-- Offsets and counts are checked, not trusted: in each room the offsets
-- must be exactly 1..count (the (room, seq) key refuses a repeat; a count
-- equal to the largest offset and a smallest of 1 rule out a gap), or the
-- call fails with invalid_parameter_value and writes nothing.
--
-- sender and client_id are compared by byte order (COLLATE "C") rather than
-- the database's locale: equality is the same for these deterministic
-- collations, nothing sorts by them, and the unique index's comparisons
-- (most of an insert's CPU) get cheaper. This rewrites messages and its
-- indexes once, holding the table locked meanwhile (see
-- docs/operations.md).

ALTER TABLE messages
    ALTER COLUMN sender TYPE text COLLATE "C",
    ALTER COLUMN client_id TYPE text COLLATE "C";

CREATE FUNCTION switchboard_append_grouped(p_rooms text[], p_counts integer[], p_room_of integer[],
                                           p_offsets integer[], p_senders text[], p_ids text[], p_bodies bytea[])
RETURNS TABLE (o_room integer, o_base bigint, o_ts timestamptz)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $fn$
DECLARE
    v_now  timestamptz;
    v_pks  bigint[] := array_fill(NULL::bigint, ARRAY[cardinality(p_rooms)]);
    v_base bigint[] := array_fill(NULL::bigint, ARRAY[cardinality(p_rooms)]);
    v_ts   timestamptz[] := array_fill(NULL::timestamptz, ARRAY[cardinality(p_rooms)]);
    r      record;
BEGIN
    IF EXISTS (SELECT 1 FROM unnest(p_room_of, p_offsets) AS i(room, off)
               GROUP BY i.room HAVING i.room IS NULL OR count(*) <> max(i.off) OR min(i.off) <> 1
                   OR count(*) IS DISTINCT FROM p_counts[i.room]) THEN
        RAISE EXCEPTION 'switchboard_append_grouped: offsets are not 1..n in every room'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_now := date_trunc('microseconds', clock_timestamp());
    FOR r IN
        WITH c AS MATERIALIZED (
            SELECT u.id, u.n::integer AS n, u.cnt FROM unnest(p_rooms, p_counts) WITH ORDINALITY AS u(id, cnt, n)
            ORDER BY u.id
        )
        UPDATE room_seqs q SET last_seq = q.last_seq + c.cnt, last_ts = greatest(v_now, q.last_ts)
        FROM c JOIN rooms m ON m.id = c.id
        WHERE q.pk = m.pk
        RETURNING c.n, q.pk, q.last_seq - c.cnt AS base, q.last_ts AS ts
    LOOP
        v_pks[r.n] := r.pk;
        v_base[r.n] := r.base;
        v_ts[r.n] := r.ts;
    END LOOP;
    INSERT INTO messages (room_pk, seq, client_id, sender, body, ts)
    SELECT v_pks[i.room], v_base[i.room] + i.off, i.client_id, i.sender, i.body, v_ts[i.room]
    FROM unnest(p_room_of, p_offsets, p_senders, p_ids, p_bodies) AS i(room, off, sender, client_id, body)
    WHERE v_pks[i.room] IS NOT NULL;
    RETURN QUERY
    SELECT u.n::integer, v_base[u.n], v_ts[u.n] FROM generate_subscripts(p_rooms, 1) AS u(n)
    WHERE v_pks[u.n] IS NOT NULL;
END
$fn$;
