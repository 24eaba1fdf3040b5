// The airlock's schema, as numbered migrations applied once each (jobserver/db.ts:
// migrate). Never edit one that has shipped: add the next number.
//
// One SQL text for SQLite and PostgreSQL: `{pk}` is the only difference;
// booleans are 0/1 integers and times ISO 8601 text in both. The CHECK lists
// repeat the values of workflow.ts and model.ts, which a test compares.

import type { Migration } from "../jobserver/db.js";

export const MIGRATIONS_TABLE = "airlock_migrations";

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "requests, file groups and files",
    sql: `
      CREATE TABLE requests (
        id {pk},
        workspace TEXT NOT NULL,
        project INTEGER NOT NULL,
        author TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'submitted', 'partially_reviewed', 'reviewed', 'returned', 'approved', 'released', 'rejected', 'withdrawn')),
        turn INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL,
        updated TEXT NOT NULL
      );
      -- One active request per author and workspace, whatever the code above does.
      CREATE UNIQUE INDEX requests_one_active ON requests (author, workspace)
        WHERE status IN ('pending', 'submitted', 'partially_reviewed', 'reviewed', 'returned', 'approved');
      CREATE INDEX requests_by_workspace ON requests (workspace);
      CREATE TABLE file_groups (
        id {pk},
        request_id INTEGER NOT NULL REFERENCES requests(id),
        name TEXT NOT NULL,
        context TEXT NOT NULL DEFAULT '',
        controls TEXT NOT NULL DEFAULT '',
        changes_requested INTEGER NOT NULL DEFAULT 0,
        UNIQUE (request_id, name)
      );
      CREATE TABLE request_files (
        id {pk},
        request_id INTEGER NOT NULL REFERENCES requests(id),
        group_id INTEGER NOT NULL REFERENCES file_groups(id),
        path TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('output', 'supporting', 'withdrawn')),
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        action TEXT NOT NULL,
        job_id TEXT NOT NULL,
        commit_sha TEXT,
        -- The automated check: its status to query on, the whole verdict (failures with their cells) as JSON.
        check_status TEXT CHECK (check_status IN ('pass', 'fail', 'review', 'error')),
        check_result TEXT,
        declaration TEXT,
        added TEXT NOT NULL,
        updated TEXT NOT NULL,
        released TEXT,
        UNIQUE (request_id, path)
      );
    `,
  },
  {
    version: 2,
    name: "votes, reviews, comments and events",
    sql: `
      CREATE TABLE votes (
        file_id INTEGER NOT NULL REFERENCES request_files(id),
        reviewer TEXT NOT NULL,
        vote TEXT NOT NULL CHECK (vote IN ('approved', 'changes_requested', 'undecided')),
        sha256 TEXT NOT NULL,
        turn INTEGER NOT NULL,
        updated TEXT NOT NULL,
        PRIMARY KEY (file_id, reviewer)
      );
      CREATE TABLE reviews (
        request_id INTEGER NOT NULL REFERENCES requests(id),
        reviewer TEXT NOT NULL,
        turn INTEGER NOT NULL,
        submitted TEXT NOT NULL,
        PRIMARY KEY (request_id, reviewer, turn)
      );
      CREATE TABLE comments (
        id {pk},
        request_id INTEGER NOT NULL REFERENCES requests(id),
        group_id INTEGER NOT NULL REFERENCES file_groups(id),
        author TEXT NOT NULL,
        text TEXT NOT NULL,
        visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
        turn INTEGER NOT NULL,
        created TEXT NOT NULL
      );
      CREATE TABLE events (
        id {pk},
        request_id INTEGER REFERENCES requests(id),
        type TEXT NOT NULL,
        username TEXT NOT NULL,
        workspace TEXT NOT NULL,
        path TEXT,
        visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
        turn INTEGER NOT NULL,
        details TEXT NOT NULL,
        created TEXT NOT NULL
      );
      CREATE INDEX events_by_request ON events (request_id);
    `,
  },
];
