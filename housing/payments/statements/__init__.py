"""Bank statements (issue 5 §5): upload, import and match a camt.053, review the rest.

- `uploads`: the uploaded file, kept encrypted until its import job has run;
- `importer`: `StatementImport`, the parse and the import as one unit of work;
- `matching`: the matching engine, entry by entry in the issue's order;
- `lookups` and `writes`: a chunk's queries, and its bulk writes (entries, payouts, audit);
- `review`: the `ReviewQueue`, where finance matches or dismisses what is left;
- `job`: the import as a background job.
"""

from housing.payments.statements.importer import (
    CHUNK,
    DEFAULT_MAX_BYTES,
    ImportRefused,
    StatementImport,
)
from housing.payments.statements.job import STATEMENT_IMPORT, run_statement_import
from housing.payments.statements.matching import ImportReport
from housing.payments.statements.review import ReviewQueue
from housing.payments.statements.uploads import UploadStore

__all__ = [
    "CHUNK",
    "DEFAULT_MAX_BYTES",
    "STATEMENT_IMPORT",
    "ImportRefused",
    "ImportReport",
    "ReviewQueue",
    "StatementImport",
    "UploadStore",
    "run_statement_import",
]
