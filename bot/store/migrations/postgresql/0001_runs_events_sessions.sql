-- The runs, their timelines (transcript events and phase changes) and the page's sign-in sessions.
CREATE TABLE runs (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    repository TEXT NOT NULL,
    repository_key TEXT NOT NULL,
    github_user TEXT NOT NULL,
    phase TEXT,
    issue_number BIGINT,
    retry_of TEXT,
    created_at DOUBLE PRECISION,
    updated_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION,
    header TEXT NOT NULL,
    PRIMARY KEY (namespace, name)
);
CREATE INDEX runs_newest ON runs (created_at DESC, name);
CREATE INDEX runs_by_repository ON runs (repository_key, created_at DESC);
CREATE INDEX runs_by_retry_of ON runs (namespace, retry_of);
CREATE INDEX runs_by_finished ON runs (finished_at);

CREATE TABLE run_events (
    id BIGSERIAL PRIMARY KEY,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    stream TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at DOUBLE PRECISION,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (namespace, name, stream, seq)
);
CREATE INDEX run_events_by_run ON run_events (namespace, name, id);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    login TEXT NOT NULL,
    user_id BIGINT NOT NULL,
    token TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
