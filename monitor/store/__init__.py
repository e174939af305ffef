"""Storage: every SQL statement of the project lives here.

``db`` (engines and connections), ``embedded`` (the embedded PostgreSQL), ``migrate``
(Alembic), ``models`` (the schema), ``repository`` (writes and the day's reads),
``runs`` (run bookkeeping), ``calibrations``, and the reads named after the question
they answer: ``reads`` (the stored figures), ``metric_reads`` (what the metrics step
computes them from), ``sample_reads`` (samples, comparisons and labels read back).
``models.PRODUCTION_SAMPLES`` is the one predicate for production's samples.
``tests/test_architecture.py`` keeps SQL from appearing anywhere else.
"""
