"""Shared test helpers: the environment, moto resources, and an API client over the real gateway."""
