"""Data subjects: their records, consents and lookup keys (`model`), the use cases on them
(`service`), DSAR reports and erasure plans (`dsar`) and the documents sent to them (`render`,
`templates/`)."""
