"""Every error judge-monitor raises on purpose, so the CLI can print one clear line.

    JudgeMonitorError
    ├── ConfigError            bad settings, unknown judge/prompt, missing key variable
    ├── DatabaseError          the database cannot be reached or used
    │   └── SchemaError        the schema is at a revision this code does not know
    ├── SourceError            a source cannot be read (missing columns, too many bad rows)
    ├── JudgeError             a judge endpoint failed beyond its retries
    └── InputError             a user-supplied file or argument is malformed

Each message names the input and what is wrong with it, and never contains a secret.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DatabaseError",
    "InputError",
    "JudgeError",
    "JudgeMonitorError",
    "SchemaError",
    "SourceError",
]


class JudgeMonitorError(Exception):
    """Base of the errors the CLI reports as one line and a non-zero exit."""


class ConfigError(JudgeMonitorError):
    pass


class DatabaseError(JudgeMonitorError):
    pass


class SchemaError(DatabaseError):
    pass


class SourceError(JudgeMonitorError):
    pass


class JudgeError(JudgeMonitorError):
    pass


class InputError(JudgeMonitorError):
    pass
