// The job server's schema, as numbered migrations. Each is applied once, in a
// transaction with its row in schema_migrations, so a failed one leaves nothing
// behind. Never edit a migration that has shipped: add the next number.
//
// The SQL is written once for SQLite and PostgreSQL: `{pk}` is the only
// difference; booleans are 0/1 integers and times ISO 8601 text in both, so
// rows read back alike.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

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
];

export function migrationSql(m: Migration, dialect: "sqlite" | "postgres"): string {
  return m.sql.replaceAll("{pk}", dialect === "sqlite" ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "SERIAL PRIMARY KEY");
}
