"""Architecture rules, checked on the source itself.

No SQL outside ``monitor/store/``: every query and write of our database lives in the
store package (``reads``, ``metric_reads``, ``sample_reads``, ``runs``, ``repository``,
``migrate``, …), named after the question it answers, so a schema change touches one
package and the rest of the code never spells a table or a column in SQL. The scan
reads every ``.py`` under ``monitor/`` and ``flows/`` with ``ast`` and flags SQL text in
string literals (implicitly concatenated and f-strings included, docstrings excepted),
imports of SQLAlchemy's statement builders, and statements executed on a connection.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("monitor", "flows")
STORE = ROOT / "monitor" / "store"

#: Files outside the store allowed to hold SQL, each with its reason.
SQL_ALLOWED = {
    # The SQL source's job is to run the *user's* query (from their configuration)
    # against *their* search-log database: it reads their storage, not ours, and its
    # SQL is configuration, not a query of our schema.
    ROOT / "monitor" / "sources" / "sql.py",
}

#: SQL in a string literal (keywords upper case, as every query here writes them).
_SQL_TEXT = {
    "SELECT … FROM": re.compile(r"\bSELECT\b[\s\S]*\bFROM\b"),
    "INSERT INTO": re.compile(r"\bINSERT\s+INTO\b"),
    "DELETE FROM": re.compile(r"\bDELETE\s+FROM\b"),
    "UPDATE … SET": re.compile(r"\bUPDATE\s+\"?\w+\"?\s+SET\b"),
    "DDL": re.compile(r"\b(CREATE|DROP|ALTER|TRUNCATE)\s+(TEMP\s+)?(TABLE|SCHEMA|INDEX)\b"),
    "COPY": re.compile(r"\bCOPY\b[\s\S]*\b(FROM|TO)\s+(STDIN|STDOUT)\b"),
    "LIKE predicate": re.compile(r"\b(NOT\s+)?I?LIKE\s+'"),
    "bound comparison": re.compile(r"\w\s*(=|<>|!=|<=|>=|<|>)\s*(ANY\()?:[a-z_]\w*"),
}

#: SQLAlchemy names that build statements (importing the engine or its types is fine).
_BUILDERS = {
    "text",
    "select",
    "insert",
    "update",
    "delete",
    "func",
    "literal",
    "literal_column",
    "column",
    "table",
    "bindparam",
    "and_",
    "or_",
    "not_",
    "case",
    "cast",
    "exists",
    "union",
    "union_all",
}
_BUILDER_MODULES = ("sqlalchemy.sql", "sqlalchemy.dialects", "sqlalchemy.orm")

#: Methods that run a statement on a connection, session or cursor.
_RUNS_SQL = {"execute", "exec_driver_sql", "executemany"}


def _docstrings(tree: ast.AST) -> set[int]:
    """Ids of the string constants that are documentation (a bare string statement)."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def _joined(node: ast.JoinedStr) -> str:
    """An f-string's literal text, each interpolation as ``{}``."""
    return "".join(
        part.value if isinstance(part, ast.Constant) else "{}"
        for part in node.values
        if isinstance(part, ast.Constant | ast.FormattedValue)
    )


def sql_findings(source: str) -> list[tuple[int, str]]:
    """(line, what) for each piece of SQL or SQL machinery in a module's source."""
    tree = ast.parse(source)
    skipped = _docstrings(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skipped.update(id(part) for part in node.values)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            literal = node.value
        elif isinstance(node, ast.JoinedStr):
            literal = _joined(node)
        else:
            literal = None
        if literal is not None:
            found += [
                (node.lineno, f"SQL text ({what})")
                for what, pattern in _SQL_TEXT.items()
                if pattern.search(literal)
            ][:1]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            module = node.module or ""
            names = {alias.name for alias in node.names}
            if module.startswith(_BUILDER_MODULES):
                found.append((node.lineno, f"imports from {module}"))
            elif module == "sqlalchemy" and names & _BUILDERS:
                found.append((node.lineno, f"imports sqlalchemy.{sorted(names & _BUILDERS)[0]}"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "sqlalchemy" or alias.name.startswith(_BUILDER_MODULES):
                    found.append((node.lineno, f"imports {alias.name} (its statement builders)"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _RUNS_SQL
        ):
            found.append((node.lineno, f"runs a statement (.{node.func.attr})"))
    return sorted(found)


def _scanned_files() -> list[Path]:
    files = sorted(p for folder in SCANNED for p in (ROOT / folder).rglob("*.py"))
    return [p for p in files if STORE not in p.parents and p not in SQL_ALLOWED]


def test_no_sql_outside_store() -> None:
    """No module of monitor/ or flows/ outside monitor/store/ holds or runs SQL."""
    files = _scanned_files()
    assert len(files) > 50, f"the scan found only {len(files)} files under {SCANNED}"
    offending = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in files
        for line, what in sql_findings(path.read_text(encoding="utf-8"))
    ]
    assert not offending, "SQL outside monitor/store/ (move it into the store):\n" + "\n".join(
        offending
    )


def test_sql_allowances_exist() -> None:
    """Every file allowed SQL outside the store exists and does hold SQL (no stale entry)."""
    for path in SQL_ALLOWED:
        assert path.is_file(), f"{path.relative_to(ROOT)} is allowed SQL but does not exist"
        assert sql_findings(path.read_text(encoding="utf-8")), f"{path} holds no SQL any more"


#: Shapes of the queries that lived outside the store before they moved into it.
_FORMER_QUERIES = {
    "text() with a query": (
        "from sqlalchemy import Connection, text\n"
        "def f(conn):\n"
        '    return conn.execute(text("SELECT max(metric_date) FROM daily_metrics")).scalar()\n'
    ),
    "query split over lines": (
        "q = (\n"
        '    "SELECT s.id, s.segment, s.weight "\n'
        "    \"FROM samples s WHERE s.sample_date = :d AND s.ranker NOT LIKE 'compare:%' \"\n"
        ")\n"
    ),
    "f-string query": (
        'q = f"SELECT {cols} FROM daily_metrics WHERE metric_date BETWEEN :s AND :e"\n'
    ),
    "delete": 'q = "DELETE FROM daily_metrics WHERE metric_date = :d"\n',
    "update": 'q = "UPDATE runs SET status = :s WHERE id = :id"\n',
    "schema reset": 'q = "DROP SCHEMA public CASCADE"\n',
    "where fragment": 'where = "ranker = :r" if ranker else "ranker NOT LIKE \'compare:%\'"\n',
    "lazy import of text": "def f():\n    from sqlalchemy import text\n    return text\n",
    "dialect insert": "from sqlalchemy.dialects.postgresql import insert\n",
    "core select": "from sqlalchemy import select\n",
    "module handle": "import sqlalchemy as sa\n",
    "statement run": "def f(conn, stmt):\n    conn.execute(stmt)\n",
}


@pytest.mark.parametrize("shape", sorted(_FORMER_QUERIES))
def test_sql_scan_catches_former_queries(shape: str) -> None:
    """The scan flags each shape of SQL that lived outside the store before it moved."""
    assert sql_findings(_FORMER_QUERIES[shape]), f"the scan missed the {shape} shape"


def test_sql_scan_ignores_prose_and_engine_types() -> None:
    """Docstrings, English words and importing engine types are not SQL."""
    source = (
        '"""Reads ``SELECT … FROM daily_metrics`` through the store."""\n'
        "from sqlalchemy import Connection, Engine, create_engine\n"
        "from sqlalchemy.exc import SQLAlchemyError\n"
        "def f(conn: Connection) -> str:\n"
        '    """DELETE FROM samples happens in the store."""\n'
        '    return "select the rows from the table where you update the set"\n'
    )
    assert sql_findings(source) == []
