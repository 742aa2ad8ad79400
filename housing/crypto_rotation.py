"""Re-encrypt every `EncryptedText` column under the primary key."""

from __future__ import annotations

from sqlalchemy import Table, Text, column, select, table, update

from housing.crypto import active_cipher
from housing.db import Base, DbSession, EncryptedText

BATCH = 500


def encrypted_columns() -> list[tuple[str, str, str]]:
    """(table, primary-key column, encrypted column) for every encrypted field."""
    found = []
    for mapper in Base.registry.mappers:
        tbl = mapper.local_table
        assert isinstance(tbl, Table)  # declarative classes here each map one table
        pk = [c.name for c in tbl.primary_key.columns]
        for col in tbl.columns:
            if isinstance(col.type, EncryptedText):
                if len(pk) != 1:
                    raise RuntimeError(f"{tbl.name}: rotation needs a single-column primary key")
                found.append((tbl.name, pk[0], col.name))
    return sorted(found)


def rotate_all(session: DbSession) -> dict[str, int]:
    cipher = active_cipher()
    counts: dict[str, int] = {}
    for table_name, pk_name, col_name in encrypted_columns():
        # Read and write the raw ciphertext: the typed column would decrypt it.
        raw = table(table_name, column(pk_name), column(col_name, Text))
        pk, value = raw.c[pk_name], raw.c[col_name]
        done = 0
        last = None
        while True:
            query = select(pk, value).where(value.is_not(None)).order_by(pk).limit(BATCH)
            if last is not None:
                query = query.where(pk > last)
            rows = session.execute(query).all()
            if not rows:
                break
            for ident, token in rows:
                session.execute(
                    update(raw).where(pk == ident).values({col_name: cipher.rotate(token)})
                )
            done += len(rows)
            last = rows[-1][0]
        counts[f"{table_name}.{col_name}"] = done
    return counts
