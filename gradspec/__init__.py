"""gradspec's pipeline: programs as data, the op vocabulary and capabilities, the adapter
interface and the oracle through it, the interpreter that runs a program on an adapter,
traces and their comparison. Below it only `reference/`; above it `strategies/`, the engines
in `adapters/`, `deviations/`, the `harness/`, the suites, and `bench/`."""
