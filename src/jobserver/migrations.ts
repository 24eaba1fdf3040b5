// The job server's schema, as numbered migrations. Each is applied once, in a
// transaction with its row in schema_migrations, so a failed one leaves nothing
// behind. Never edit a migration that has shipped: add the next number.
//
// The SQL is written once for SQLite and PostgreSQL: `{pk}` is the only
// difference; booleans are 0/1 integers and times ISO 8601 text in both, so
// rows read back alike.

import type { Migration } from "./db.js";

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "people and projects",
    sql: `
      CREATE TABLE users (
        id {pk},
        username TEXT NOT NULL UNIQUE,
        full_name TEXT NOT NULL DEFAULT '',
        email TEXT NOT NULL DEFAULT '',
        password_hash TEXT NOT NULL,
        api_token_hash TEXT UNIQUE,
        is_staff INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL
      );
      CREATE TABLE user_roles (
        user_id INTEGER NOT NULL REFERENCES users(id),
        role TEXT NOT NULL,
        PRIMARY KEY (user_id, role)
      );
      CREATE TABLE orgs (
        id {pk},
        name TEXT NOT NULL UNIQUE,
        created TEXT NOT NULL
      );
      CREATE TABLE projects (
        id {pk},
        number INTEGER NOT NULL UNIQUE,
        name TEXT NOT NULL,
        org_id INTEGER NOT NULL REFERENCES orgs(id),
        status TEXT NOT NULL DEFAULT 'ongoing' CHECK (status IN ('ongoing', 'postponed', 'completed', 'retired')),
        category TEXT NOT NULL CHECK (category IN ('approved', 'internal', 'short data report')),
        created TEXT NOT NULL
      );
      CREATE TABLE memberships (
        id {pk},
        user_id INTEGER NOT NULL REFERENCES users(id),
        project_id INTEGER NOT NULL REFERENCES projects(id),
        created TEXT NOT NULL,
        UNIQUE (user_id, project_id)
      );
      CREATE TABLE membership_roles (
        membership_id INTEGER NOT NULL REFERENCES memberships(id),
        role TEXT NOT NULL,
        PRIMARY KEY (membership_id, role)
      );
    `,
  },
  {
    version: 2,
    name: "backends, workspaces and jobs",
    sql: `
      CREATE TABLE backends (
        id {pk},
        name TEXT NOT NULL UNIQUE,
        token_hash TEXT NOT NULL,
        created TEXT NOT NULL,
        token_rotated TEXT
      );
      -- The reference: BackendMembership says which backends a user may run jobs on.
      CREATE TABLE backend_memberships (
        user_id INTEGER NOT NULL REFERENCES users(id),
        backend_id INTEGER NOT NULL REFERENCES backends(id),
        created TEXT NOT NULL,
        PRIMARY KEY (user_id, backend_id)
      );
      CREATE TABLE workspaces (
        id {pk},
        project_id INTEGER NOT NULL REFERENCES projects(id),
        name TEXT NOT NULL UNIQUE,
        repo TEXT NOT NULL,
        branch TEXT NOT NULL,
        archived INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL
      );
      CREATE TABLE job_requests (
        id {pk},
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        backend_id INTEGER NOT NULL REFERENCES backends(id),
        commit_sha TEXT NOT NULL,
        requested_actions TEXT NOT NULL,
        force_run_dependencies INTEGER NOT NULL DEFAULT 0,
        requester_id INTEGER NOT NULL REFERENCES users(id),
        created TEXT NOT NULL
      );
      CREATE TABLE jobs (
        id {pk},
        job_request_id INTEGER NOT NULL REFERENCES job_requests(id),
        action TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        status_code TEXT NOT NULL DEFAULT '',
        status_message TEXT NOT NULL DEFAULT '',
        started TEXT,
        finished TEXT,
        cpu_seconds DOUBLE PRECISION,
        memory_bytes DOUBLE PRECISION,
        created TEXT NOT NULL
      );
      CREATE INDEX jobs_by_request ON jobs (job_request_id);
      CREATE INDEX job_requests_by_workspace ON job_requests (workspace_id);
    `,
  },
  {
    version: 3,
    name: "job request states, sessions and login failures",
    // Columns are added rather than the tables rebuilt: SQLite cannot alter a
    // column, and a rebuild would have to copy jobs' foreign keys by hand. The
    // unique identifiers are unique indexes for the same reason.
    sql: `
      ALTER TABLE job_requests ADD COLUMN identifier TEXT;
      -- Denormalised from the workspace (which never changes project), so the
      -- public log of one project is read from one index, newest first.
      ALTER TABLE job_requests ADD COLUMN project_id INTEGER REFERENCES projects(id);
      ALTER TABLE job_requests ADD COLUMN status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled'));
      ALTER TABLE job_requests ADD COLUMN message TEXT NOT NULL DEFAULT '';
      ALTER TABLE job_requests ADD COLUMN claimed_by TEXT;
      ALTER TABLE job_requests ADD COLUMN claimed_at TEXT;
      ALTER TABLE job_requests ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE job_requests ADD COLUMN finished TEXT;
      UPDATE job_requests SET project_id = (SELECT w.project_id FROM workspaces w WHERE w.id = job_requests.workspace_id);
      CREATE UNIQUE INDEX job_requests_identifier ON job_requests (identifier);
      DROP INDEX job_requests_by_workspace;
      CREATE INDEX job_requests_by_workspace ON job_requests (workspace_id, id);
      CREATE INDEX job_requests_by_project ON job_requests (project_id, id);
      CREATE INDEX job_requests_by_requester ON job_requests (requester_id, id);
      CREATE INDEX job_requests_by_status ON job_requests (status, id);
      -- The agents' queue: a backend's pending requests, and its running ones by workspace.
      CREATE INDEX job_requests_queue ON job_requests (backend_id, status, workspace_id);

      ALTER TABLE jobs ADD COLUMN identifier TEXT;
      ALTER TABLE jobs ADD COLUMN run_command TEXT NOT NULL DEFAULT '';
      ALTER TABLE jobs ADD COLUMN exit_code INTEGER;
      CREATE UNIQUE INDEX jobs_identifier ON jobs (identifier);
      -- Covers the count of done and all jobs, and the first start, of a page of requests.
      DROP INDEX jobs_by_request;
      CREATE INDEX jobs_by_request ON jobs (job_request_id, status, started);

      CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        csrf TEXT NOT NULL,
        created TEXT NOT NULL,
        expires TEXT NOT NULL
      );
      CREATE INDEX sessions_by_expiry ON sessions (expires);
      CREATE TABLE login_failures (
        id {pk},
        subject TEXT NOT NULL,
        at TEXT NOT NULL
      );
      CREATE INDEX login_failures_by_subject ON login_failures (subject, at);
    `,
  },
  {
    version: 4,
    name: "the claim's fairness by index",
    sql: `
      -- When each workspace was last served on a backend: one index lookup per workspace in the claim.
      CREATE INDEX job_requests_served ON job_requests (backend_id, workspace_id, claimed_at);
    `,
  },
  {
    version: 5,
    name: "released files",
    // A release is what Airlock sends out for one approved request: its list of
    // files first, then each file's bytes, which live in the releases folder
    // under their sha256 (\`stored\`, relative to that folder). The request's id is
    // Airlock's, unique within its backend, so the uploader's retries find the
    // release they started. \`released_by\` is text, not a user: the uploader may
    // act as Airlock's system account, which the job server does not know.
    sql: `
      CREATE TABLE releases (
        id {pk},
        identifier TEXT NOT NULL UNIQUE,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        backend_id INTEGER NOT NULL REFERENCES backends(id),
        airlock_request TEXT NOT NULL,
        released_by TEXT NOT NULL,
        created TEXT NOT NULL,
        completed TEXT,
        UNIQUE (backend_id, airlock_request)
      );
      CREATE INDEX releases_by_workspace ON releases (workspace_id, completed);
      CREATE TABLE released_files (
        id {pk},
        release_id INTEGER NOT NULL REFERENCES releases(id),
        name TEXT NOT NULL,
        size BIGINT NOT NULL,
        sha256 TEXT NOT NULL,
        file_date TEXT NOT NULL,
        received TEXT,
        stored TEXT,
        UNIQUE (release_id, name)
      );
    `,
  },
  {
    version: 6,
    name: "publish requests and incidents",
    // A publish request names released files (rows of released_files, so only
    // what was released can be named) to be committed to the workspace's
    // repository; its states are those of PUBLISH_TRANSITIONS in store.ts. The
    // commit it became is kept with it. `published_by` is text: the operator
    // who ran `enclave publish`, who need not have an account.
    //
    // An incident is a leak cleaned from a workspace's repository (`enclave
    // breach clean --workspace`): while one is open the workspace is
    // restricted. `opened_by` is text for the same reason; closing is done on
    // the job server, by a user.
    sql: `
      CREATE TABLE publish_requests (
        id {pk},
        identifier TEXT NOT NULL UNIQUE,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        requester_id INTEGER NOT NULL REFERENCES users(id),
        note TEXT NOT NULL DEFAULT '',
        created TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'published')),
        decided_by_id INTEGER REFERENCES users(id),
        decided TEXT,
        decision_note TEXT NOT NULL DEFAULT '',
        published TEXT,
        published_by TEXT,
        commit_sha TEXT,
        published_repo TEXT,
        published_branch TEXT
      );
      CREATE INDEX publish_requests_by_status ON publish_requests (status, id);
      CREATE INDEX publish_requests_by_workspace ON publish_requests (workspace_id, id);
      CREATE TABLE publish_request_files (
        publish_request_id INTEGER NOT NULL REFERENCES publish_requests(id),
        released_file_id INTEGER NOT NULL REFERENCES released_files(id),
        PRIMARY KEY (publish_request_id, released_file_id)
      );
      CREATE TABLE incidents (
        id {pk},
        identifier TEXT NOT NULL UNIQUE,
        workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
        repo TEXT NOT NULL,
        blobs TEXT NOT NULL,
        refs_rewritten TEXT NOT NULL,
        refs_deleted TEXT NOT NULL,
        opened_by TEXT NOT NULL,
        opened TEXT NOT NULL,
        closed_by_id INTEGER REFERENCES users(id),
        closed TEXT,
        close_note TEXT
      );
      CREATE INDEX incidents_by_workspace ON incidents (workspace_id, closed);
    `,
  },
  {
    version: 7,
    name: "audit outbox",
    // The audit entries of changes, written in each change's own transaction
    // and moved into the audit log (a separate database) after it commits:
    // a crash in between leaves them here, to be moved on the next start,
    // instead of losing them. `key` makes the move happen once (audit_keys).
    sql: `
      CREATE TABLE audit_outbox (
        id {pk},
        key TEXT NOT NULL UNIQUE,
        recorded TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        details TEXT NOT NULL
      );
    `,
  },
];
