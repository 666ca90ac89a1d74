"""Adapters: one file per engine, each implementing `adapters.base.Adapter`."""
