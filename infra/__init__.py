"""Keyframe's AWS infrastructure as a CDK app: one construct per concern, composed in ``stack.py``.

Every resource is derived from the shared package's single sources of truth:
``keyframe.storage.tables.TABLES`` (tables), ``keyframe.registry.FUNCTIONS`` (functions) and
``keyframe.registry.endpoints()`` (REST routes). ``application.create_app`` builds the app the same
way for ``python app.py``, the CDK CLI and the infrastructure tests.
"""
