"""partition by month

Why: at 3 judges x 30k sampled results a day the store gains ~100k verdicts a day (36M a
year; a bigger team ten times that). Unpartitioned, ``verdicts`` and the tables beside
it grow without bound, and the only way to forget a month is a ``DELETE`` of millions of
rows (and the vacuum after it). Partitioned by month on the day the rows belong to, a
day's reads touch one month's partition whatever the history, and retention
(``judge-monitor db prune``) drops whole months as files.

What changes:

* ``samples``, ``verdicts``, ``ensemble_grades`` and ``pairwise_judgments`` become
  declarative ``RANGE`` partitioned tables, one partition per calendar month of
  ``sample_date`` (``judgment_date`` for pairwise judgments), named
  ``<table>_yYYYYmMM``, plus a ``<table>_default`` partition so that no insert ever
  fails for want of a partition.
* ``verdicts`` and ``ensemble_grades`` get a ``sample_date`` column (their sample's
  date, the partition key); primary keys become ``(id, <date>)`` and the unique keys
  gain the date (Postgres requires the partition key in both; the date follows from the
  sample id, so what is unique does not change).
* The foreign keys ``verdicts.sample_id`` and ``ensemble_grades.sample_id`` ->
  ``samples.id`` are replaced: a partition of a table that other tables reference
  cannot be dropped (only detached, after Postgres checks every referencing row), and
  each COPY'd row would pay a check against a partitioned parent. The writer looks up
  each sample's date and refuses ids that are not stored (what the foreign key
  refused), and a statement-level ``AFTER DELETE`` trigger on ``samples`` deletes their
  verdicts and ensemble grades (what ``ON DELETE CASCADE`` did). All three tables are
  partitioned by the same date, so a month is dropped from all three together.
* ``ix_verdicts_cache_key`` goes: no query reads verdicts by cache key, and on 64
  characters per row it was a third of the table's index bytes.
* ``verdict_cache`` stays unpartitioned (it is keyed by content, not by date: an answer
  paid for in January serves December's identical question) and gains ``last_used``,
  the day a stored verdict last came from it (to within a week), and an index on it,
  which ``db prune`` uses to forget answers not used since the cutoff (in batches, each
  found through the index: the cost is the entries forgotten, not the cache's size).
  Existing entries start at the day of this migration.
* ``judge_monitor_ensure_partitions(first date, last date)`` creates every month's
  partitions from ``first`` to ``last`` that do not exist yet (moving any rows the
  default partition holds for that month into it); the daily run calls it for its day
  and the next month.

Existing rows are copied into the new tables (and back on downgrade); the ids'
sequences move with them.

Revision ID: affae5ca3c30
Revises: f34aec8d8e82
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "affae5ca3c30"
down_revision: str | None = "f34aec8d8e82"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The partitioned tables and their partition key, in the function below as well.
PARTITIONED = {
    "samples": "sample_date",
    "verdicts": "sample_date",
    "ensemble_grades": "sample_date",
    "pairwise_judgments": "judgment_date",
}

ENSURE_PARTITIONS = """
CREATE OR REPLACE FUNCTION judge_monitor_ensure_partitions(first_day date, last_day date)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
    tables text[] := ARRAY['samples', 'verdicts', 'ensemble_grades', 'pairwise_judgments'];
    keys text[] := ARRAY['sample_date', 'sample_date', 'sample_date', 'judgment_date'];
    month date;
    next_month date;
    part text;
    held boolean;
    created integer := 0;
BEGIN
    IF first_day IS NULL OR last_day IS NULL OR last_day < first_day THEN
        RAISE EXCEPTION 'judge_monitor_ensure_partitions: first_day (%) must be a date on or '
            'before last_day (%)', first_day, last_day;
    END IF;
    -- two runs opening the same month wait for each other instead of failing
    PERFORM pg_advisory_xact_lock(hashtext('judge_monitor_ensure_partitions'));
    month := date_trunc('month', first_day)::date;
    WHILE month <= last_day LOOP
        next_month := (month + interval '1 month')::date;
        FOR i IN 1 .. array_length(tables, 1) LOOP
            part := format('%s_y%sm%s', tables[i], to_char(month, 'YYYY'), to_char(month, 'MM'));
            CONTINUE WHEN to_regclass(quote_ident(part)) IS NOT NULL;
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I >= $1 AND %I < $2)',
                           tables[i] || '_default', keys[i], keys[i])
                INTO held USING month, next_month;
            IF held THEN
                -- rows that landed in the default partition move into their month's
                -- (a DELETE on the partition itself fires no trigger of the parent)
                EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS)', part, tables[i]);
                EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 '
                               'RETURNING *) INSERT INTO %I SELECT * FROM moved',
                               tables[i] || '_default', keys[i], keys[i], part)
                    USING month, next_month;
                EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                               tables[i], part, month, next_month);
            ELSE
                EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                               part, tables[i], month, next_month);
            END IF;
            created := created + 1;
        END LOOP;
        month := next_month;
    END LOOP;
    RETURN created;
END
$fn$
"""

DELETE_SAMPLE_CHILDREN = """
CREATE OR REPLACE FUNCTION judge_monitor_delete_sample_children() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    DELETE FROM verdicts v USING gone g
        WHERE v.sample_id = g.id AND v.sample_date = g.sample_date;
    DELETE FROM ensemble_grades e USING gone g
        WHERE e.sample_id = g.id AND e.sample_date = g.sample_date;
    RETURN NULL;
END
$fn$
"""

SAMPLES_TRIGGER = (
    "CREATE TRIGGER samples_delete_children AFTER DELETE ON samples "
    "REFERENCING OLD TABLE AS gone FOR EACH STATEMENT "
    "EXECUTE FUNCTION judge_monitor_delete_sample_children()"
)

# The columns of each table as the initial schema has them (the new key columns apart).
SAMPLES_COLUMNS = """
    id bigint NOT NULL DEFAULT nextval('samples_id_seq'::regclass),
    sample_date date NOT NULL,
    ranker varchar(64) NOT NULL,
    query_id text NOT NULL,
    query_text text NOT NULL,
    query_norm text NOT NULL,
    searched_at timestamp with time zone NOT NULL,
    stratum text NOT NULL,
    segment jsonb NOT NULL,
    inclusion_prob double precision NOT NULL,
    weight double precision NOT NULL,
    hard boolean NOT NULL,
    results jsonb NOT NULL,
    signals jsonb NOT NULL
"""
VERDICTS_COLUMNS = """
    id bigint NOT NULL DEFAULT nextval('verdicts_id_seq'::regclass),
    sample_id bigint NOT NULL,
    judge_id integer NOT NULL,
    result_id text NOT NULL,
    position smallint NOT NULL,
    mode varchar(16) NOT NULL,
    status varchar(16) NOT NULL,
    grade smallint,
    expected_grade double precision,
    reasoning text NOT NULL,
    raw text NOT NULL,
    input_tokens integer NOT NULL,
    output_tokens integer NOT NULL,
    latency_ms double precision NOT NULL,
    cost_usd double precision NOT NULL,
    truncated boolean NOT NULL,
    cache_hit boolean NOT NULL,
    cache_key varchar(64) NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now()
"""
ENSEMBLE_COLUMNS = """
    id bigint NOT NULL DEFAULT nextval('ensemble_grades_id_seq'::regclass),
    sample_id bigint NOT NULL,
    result_id text NOT NULL,
    position smallint NOT NULL,
    grade double precision,
    disagreement double precision,
    n_judges smallint NOT NULL,
    method varchar(16) NOT NULL
"""
PAIRWISE_COLUMNS = """
    id bigint NOT NULL DEFAULT nextval('pairwise_judgments_id_seq'::regclass),
    judgment_date date NOT NULL,
    query_norm text NOT NULL,
    judge_id integer NOT NULL,
    a_id text NOT NULL,
    b_id text NOT NULL,
    first varchar(16) NOT NULL,
    second varchar(16) NOT NULL,
    winner varchar(16) NOT NULL,
    consistent boolean NOT NULL,
    reasoning text NOT NULL,
    input_tokens integer NOT NULL,
    output_tokens integer NOT NULL,
    cost_usd double precision NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now()
"""
COLUMNS = {
    "samples": SAMPLES_COLUMNS,
    "verdicts": VERDICTS_COLUMNS,
    "ensemble_grades": ENSEMBLE_COLUMNS,
    "pairwise_judgments": PAIRWISE_COLUMNS,
}
DATE_COLUMN = ",\n    sample_date date NOT NULL"  # verdicts and ensemble grades, partitioned

# Constraints and indexes of the partitioned tables (created after the rows are in).
PARTITIONED_KEYS = {
    "samples": [
        "ALTER TABLE samples ADD CONSTRAINT pk_samples PRIMARY KEY (id, sample_date)",
        "ALTER TABLE samples ADD CONSTRAINT uq_samples_sample_date_ranker_query_norm "
        "UNIQUE (sample_date, ranker, query_norm)",
        "CREATE INDEX ix_samples_sample_date ON samples (sample_date)",
    ],
    "verdicts": [
        "ALTER TABLE verdicts ADD CONSTRAINT pk_verdicts PRIMARY KEY (id, sample_date)",
        "ALTER TABLE verdicts ADD CONSTRAINT "
        "uq_verdicts_sample_id_result_id_judge_id_mode_sample_date "
        "UNIQUE (sample_id, result_id, judge_id, mode, sample_date)",
    ],
    "ensemble_grades": [
        "ALTER TABLE ensemble_grades ADD CONSTRAINT pk_ensemble_grades "
        "PRIMARY KEY (id, sample_date)",
        "ALTER TABLE ensemble_grades ADD CONSTRAINT "
        "uq_ensemble_grades_sample_id_result_id_sample_date "
        "UNIQUE (sample_id, result_id, sample_date)",
    ],
    "pairwise_judgments": [
        "ALTER TABLE pairwise_judgments ADD CONSTRAINT pk_pairwise_judgments "
        "PRIMARY KEY (id, judgment_date)",
        "ALTER TABLE pairwise_judgments ADD CONSTRAINT "
        "uq_pairwise_judgments_judgment_date_query_norm_judge_id_dd18 "
        "UNIQUE (judgment_date, query_norm, judge_id, a_id, b_id)",
        "ALTER TABLE pairwise_judgments ADD CONSTRAINT fk_pairwise_judgments_judge_id_judges "
        "FOREIGN KEY (judge_id) REFERENCES judges (id)",
    ],
}

# The initial schema's constraints and indexes, as it created them.
PLAIN_KEYS = {
    "samples": [
        "ALTER TABLE samples ADD CONSTRAINT pk_samples PRIMARY KEY (id)",
        "ALTER TABLE samples ADD CONSTRAINT uq_samples_sample_date_ranker_query_norm "
        "UNIQUE (sample_date, ranker, query_norm)",
        "CREATE INDEX ix_samples_sample_date ON samples (sample_date)",
    ],
    "verdicts": [
        "ALTER TABLE verdicts ADD CONSTRAINT pk_verdicts PRIMARY KEY (id)",
        "ALTER TABLE verdicts ADD CONSTRAINT uq_verdicts_sample_id_result_id_judge_id_mode "
        "UNIQUE (sample_id, result_id, judge_id, mode)",
        "CREATE INDEX ix_verdicts_cache_key ON verdicts (cache_key)",
        "ALTER TABLE verdicts ADD CONSTRAINT fk_verdicts_sample_id_samples "
        "FOREIGN KEY (sample_id) REFERENCES samples (id) ON DELETE CASCADE",
    ],
    "ensemble_grades": [
        "ALTER TABLE ensemble_grades ADD CONSTRAINT pk_ensemble_grades PRIMARY KEY (id)",
        "ALTER TABLE ensemble_grades ADD CONSTRAINT uq_ensemble_grades_sample_id_result_id "
        "UNIQUE (sample_id, result_id)",
        "ALTER TABLE ensemble_grades ADD CONSTRAINT fk_ensemble_grades_sample_id_samples "
        "FOREIGN KEY (sample_id) REFERENCES samples (id) ON DELETE CASCADE",
    ],
    "pairwise_judgments": [
        "ALTER TABLE pairwise_judgments ADD CONSTRAINT pk_pairwise_judgments PRIMARY KEY (id)",
        "ALTER TABLE pairwise_judgments ADD CONSTRAINT "
        "uq_pairwise_judgments_judgment_date_query_norm_judge_id_dd18 "
        "UNIQUE (judgment_date, query_norm, judge_id, a_id, b_id)",
        "ALTER TABLE pairwise_judgments ADD CONSTRAINT fk_pairwise_judgments_judge_id_judges "
        "FOREIGN KEY (judge_id) REFERENCES judges (id)",
    ],
}

#: Parents before children when creating, children before parents when parking.
ORDER = ("samples", "verdicts", "ensemble_grades", "pairwise_judgments")


def _column_names(table: str) -> list[str]:
    return [line.split()[0] for line in COLUMNS[table].strip().splitlines()]


def _park(table: str, suffix: str) -> str:
    """Rename ``table`` out of the way, its keys dropped (the names are reused) and its
    sequence freed (it moves to the new table): what remains is only rows to copy."""
    parked = f"{table}_{suffix}"
    conn = op.get_bind()
    constraints = conn.exec_driver_sql(
        "SELECT conname FROM pg_constraint WHERE conrelid = %(t)s::regclass "
        "AND contype IN ('p', 'u', 'f') ORDER BY contype = 'p'",
        {"t": table},
    ).all()
    for (name,) in constraints:
        op.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    indexes = conn.exec_driver_sql(
        "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %(t)s::regclass",
        {"t": table},
    ).all()
    for (name,) in indexes:
        op.execute(f"DROP INDEX {name}")
    op.execute(f"ALTER TABLE {table} ALTER COLUMN id DROP DEFAULT")
    op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE")
    op.execute(f"ALTER TABLE {table} RENAME TO {parked}")
    return parked


def upgrade() -> None:
    for table in ("verdicts", "ensemble_grades"):  # the foreign keys to samples first
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT fk_{table}_sample_id_samples")
    parked = {table: _park(table, "unpartitioned") for table in reversed(ORDER)}
    for table in ORDER:
        extra = DATE_COLUMN if table in ("verdicts", "ensemble_grades") else ""
        key = PARTITIONED[table]
        op.execute(f"CREATE TABLE {table} ({COLUMNS[table]}{extra}) PARTITION BY RANGE ({key})")
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
        op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
    op.execute(ENSURE_PARTITIONS)
    # a partition for every month that holds rows, and for this month and the next
    op.execute(
        "SELECT judge_monitor_ensure_partitions(m, m) FROM ("
        f"SELECT DISTINCT date_trunc('month', sample_date)::date AS m FROM {parked['samples']} "
        "UNION SELECT DISTINCT date_trunc('month', judgment_date)::date "
        f"FROM {parked['pairwise_judgments']} "
        "UNION SELECT date_trunc('month', current_date)::date "
        "UNION SELECT (date_trunc('month', current_date) + interval '1 month')::date) months"
    )
    for table in ("samples", "pairwise_judgments"):
        cols = ", ".join(_column_names(table))
        op.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {parked[table]}")
    for table in ("verdicts", "ensemble_grades"):
        cols = _column_names(table)
        op.execute(
            f"INSERT INTO {table} ({', '.join(cols)}, sample_date) "
            f"SELECT {', '.join('c.' + c for c in cols)}, s.sample_date "
            f"FROM {parked[table]} c JOIN samples s ON s.id = c.sample_id"
        )
    for table in ORDER:
        for statement in PARTITIONED_KEYS[table]:
            op.execute(statement)
    for table in reversed(ORDER):
        op.execute(f"DROP TABLE {parked[table]}")
    op.execute(DELETE_SAMPLE_CHILDREN)
    op.execute(SAMPLES_TRIGGER)
    op.execute("ALTER TABLE verdict_cache ADD COLUMN last_used date NOT NULL DEFAULT current_date")
    op.execute("CREATE INDEX ix_verdict_cache_last_used ON verdict_cache (last_used)")
    for table in ORDER:
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    op.execute("ALTER TABLE verdict_cache DROP COLUMN last_used")
    op.execute("DROP TRIGGER samples_delete_children ON samples")
    op.execute("DROP FUNCTION judge_monitor_delete_sample_children()")
    parked = {table: _park(table, "partitioned") for table in reversed(ORDER)}
    for table in ORDER:
        op.execute(f"CREATE TABLE {table} ({COLUMNS[table]})")
        op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
        cols = ", ".join(_column_names(table))
        op.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {parked[table]}")
        for statement in PLAIN_KEYS[table]:
            op.execute(statement)
    for table in reversed(ORDER):
        op.execute(f"DROP TABLE {parked[table]}")  # its partitions with it
    op.execute("DROP FUNCTION judge_monitor_ensure_partitions(date, date)")
