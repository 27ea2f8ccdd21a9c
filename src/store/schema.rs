//! Migrations, applied in order and recorded in `PRAGMA user_version`. Never edit a shipped step;
//! add a new one.

pub const MIGRATIONS: &[&str] = &[
    // 1: the event log (append-only, hash-chained), projections, master data, sync state.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    CREATE TABLE event_log (
        seq        INTEGER PRIMARY KEY,
        id         TEXT NOT NULL UNIQUE,
        station    TEXT NOT NULL,
        at         TEXT NOT NULL,
        actor      TEXT NOT NULL,
        kind       TEXT NOT NULL,
        work_order TEXT,
        body       TEXT NOT NULL,
        prev_hash  TEXT NOT NULL,
        hash       TEXT NOT NULL
    );
    CREATE INDEX event_log_work_order ON event_log(work_order);

    CREATE TRIGGER event_log_no_update BEFORE UPDATE ON event_log
    BEGIN SELECT RAISE(ABORT, 'event_log is append-only: record a correction instead'); END;
    CREATE TRIGGER event_log_no_delete BEFORE DELETE ON event_log
    BEGIN SELECT RAISE(ABORT, 'event_log is append-only: events are never deleted'); END;

    CREATE TABLE session (
        id    INTEGER PRIMARY KEY CHECK (id = 1),
        badge TEXT NOT NULL,
        name  TEXT NOT NULL,
        since TEXT NOT NULL
    );
    CREATE TABLE station_projection (
        id                  INTEGER PRIMARY KEY CHECK (id = 1),
        active_work_order   TEXT,
        unassigned_produced INTEGER NOT NULL DEFAULT 0,
        plc_epoch           INTEGER,
        plc_processed       INTEGER,
        plc_defective       INTEGER,
        through_seq         INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO station_projection (id) VALUES (1);
    CREATE TABLE work_order_progress (
        work_order   TEXT PRIMARY KEY,
        status       TEXT NOT NULL,
        produced     INTEGER NOT NULL,
        rejected     INTEGER NOT NULL,
        started_at   TEXT,
        completed_at TEXT
    );

    CREATE TABLE master_record (
        kind    TEXT NOT NULL,
        key     TEXT NOT NULL,
        version INTEGER NOT NULL,
        body    TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    );

    CREATE TABLE sync_state (
        id                INTEGER PRIMARY KEY CHECK (id = 1),
        acked_through     INTEGER NOT NULL DEFAULT 0,
        acked_chain_head  TEXT,
        downlink_cursor   INTEGER NOT NULL DEFAULT 0,
        last_server_time  TEXT,
        last_error        TEXT
    );
    INSERT INTO sync_state (id) VALUES (1);
    "#,
    // 2: material flow: lots loaded per work order, the open (part-filled) output, lots known only
    // here, what was drawn from each lot, the output counter that numbers new output ids, and the
    // genealogy links of the outputs made here.
    r#"
    CREATE TABLE loaded_lot (
        work_order TEXT NOT NULL,
        material   TEXT NOT NULL,
        lot        TEXT NOT NULL,
        PRIMARY KEY (work_order, material)
    );
    CREATE TABLE open_output (
        work_order TEXT PRIMARY KEY,
        units      INTEGER NOT NULL,
        inputs     TEXT NOT NULL
    );
    CREATE TABLE local_lot (
        id   TEXT PRIMARY KEY,
        body TEXT NOT NULL
    );
    CREATE TABLE lot_usage (
        lot        TEXT PRIMARY KEY,
        used_milli INTEGER NOT NULL
    );
    ALTER TABLE station_projection ADD COLUMN outputs_made INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE work_order_progress ADD COLUMN last_loaded TEXT;
    ALTER TABLE station_projection ADD COLUMN machine TEXT;
    ALTER TABLE station_projection ADD COLUMN andon TEXT;
    -- The latest stops (downtime records) for the screens; the log keeps every one.
    CREATE TABLE downtime (
        started_at TEXT PRIMARY KEY,
        body       TEXT NOT NULL
    );
    -- Genealogy links of the outputs made here, both ways indexed, for the Trace screen.
    CREATE TABLE output_edge (
        output TEXT NOT NULL,
        input  TEXT NOT NULL,
        seq    INTEGER NOT NULL,
        PRIMARY KEY (output, input)
    );
    CREATE INDEX output_edge_input ON output_edge(input);
    CREATE INDEX output_edge_seq ON output_edge(seq);
    -- Machine transitions by time, for live KPIs.
    CREATE INDEX event_log_kind_at ON event_log(kind, at);
    "#,
    // 3: the per-part record recorded last (its PLC epoch and record_seq deduplicate a FIFO head
    // read again after a crash between commit and ack), written with its event.
    r#"
    ALTER TABLE station_projection ADD COLUMN last_part TEXT;
    "#,
    // 4: when central last answered, by this station's clock: the offline grace window counts from
    // it.
    r#"
    ALTER TABLE sync_state ADD COLUMN central_heard_at TEXT;
    "#,
    // 5: wrong PINs in a row and locked badges (people and trust), kept with the events that
    // change them.
    r#"
    ALTER TABLE station_projection ADD COLUMN login_guard TEXT;
    "#,
    // 6: holds and releases decided here (they count over central's older record of the lot) and
    // the value that counts now for each corrected event.
    r#"
    ALTER TABLE station_projection ADD COLUMN lot_decisions TEXT;
    ALTER TABLE station_projection ADD COLUMN corrections TEXT;
    "#,
    // 7: nonconformance reports opened here.
    r#"
    ALTER TABLE station_projection ADD COLUMN ncrs TEXT;
    "#,
    // 8: a work order's first article here and when it passed (first-article gating of the permit).
    r#"
    ALTER TABLE work_order_progress ADD COLUMN first_article TEXT;
    "#,
    // 9: what this station's inspections say over time: SPC series, AQL switching stage, alerts.
    // Written with the inspections and alerts that change it; a store from before starts empty.
    r#"
    ALTER TABLE station_projection ADD COLUMN quality TEXT;
    "#,
];
