"""The harness: what runs the pipeline for users and CI: the backend under test, checking a
program and reporting the failure, crash isolation, arbitration by finite differences,
replay, reports, the conformance matrix, campaigns, example databases and shards."""
