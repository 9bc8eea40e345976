"""Data subjects: their records, consents and disclosures (`model`), their lookup keys (`keys`),
the subject files they are loaded from (`files`), the use cases on them (`service`), whether
consent stands (`consent`), DSAR reports (`dsar`), erasure plans (`erasure`), and the documents
sent to them (`render`, `templates/`) in the reader's language (`language`, `words`, `locale/`);
the demo's subjects (`demo`)."""
