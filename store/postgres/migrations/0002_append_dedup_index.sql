-- switchboard schema, version 2: switchboard_append looks duplicates up by
-- the whole (room, sender, client id) key, whatever the planner estimates.
--
-- Version 1 joined the batch (unnest joined to rooms) to messages in one
-- step. Its generic plan, made on a session's first call, could parameterise
-- the messages lookup by the room alone and take the (room_pk, seq) primary
-- key, filtering sender and client id: every message then read every stored
-- message of its room, so a busy room's appends got slower as it grew (32
-- messages into a room of 7,700 read 246,000 index entries, 44 ms). Here the
-- batch is first numbered and resolved to room keys in a materialised step;
-- the lookup is then parameterised by one relation whose three columns match
-- the unique index exactly (one row at most), which is always the cheaper
-- path. TestAppendDedupUsesUniqueIndex holds this against a large room.

CREATE OR REPLACE FUNCTION switchboard_append(p_rooms text[], p_senders text[], p_ids text[], p_bodies bytea[])
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
    WITH batch AS MATERIALIZED (
        SELECT i.ord::integer AS ord, r.pk, q.last_seq, greatest(v_now, q.last_ts) AS ts,
               i.sender, i.client_id, i.body
        FROM unnest(p_rooms, p_senders, p_ids, p_bodies) WITH ORDINALITY AS i(room, sender, client_id, body, ord)
        JOIN rooms r ON r.id = i.room
        JOIN room_seqs q ON q.pk = r.pk
    ), input AS MATERIALIZED (
        SELECT b.ord, b.pk, b.last_seq, b.ts, b.sender, b.client_id, b.body,
               m.seq AS old_seq, m.ts AS old_ts, m.body AS old_body
        FROM batch b
        LEFT JOIN messages m ON m.room_pk = b.pk AND m.sender = b.sender AND m.client_id = b.client_id
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
