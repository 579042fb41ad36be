"""The REST layer: resolver factory, the one error mapping, auth context, OpenAPI."""
