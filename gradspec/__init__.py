"""gradspec's core: programs as data, the interpreter that runs them on an adapter, traces,
their comparison, and repro scripts. Strategies live in `strategies/`, engines in `adapters/`."""
