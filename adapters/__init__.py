"""Adapters: one file per engine, each implementing `gradspec.adapter.Adapter`."""
