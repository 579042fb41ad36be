"""The asset catalog: projects, assets, immutable versions, the dependency graph, the activity log.

Modules, by what a newcomer looks for:

- ``projects``  projects and their unique codes
- ``assets``    assets: create, read, edit with ``If-Match``, archive, restore
- ``listing``   the asset list: GSI design, filters, bounded pages
- ``versions``  publish (used by the upload pipeline), ready/failed, review status, rollback, download
- ``graph``     dependencies, traversal with depth/paths, cycle refusal, impact of a new version
- ``activity``  the activity log and the one write path (:func:`activity.record`)
- ``cursors``   signed pagination cursors (reusable by other domains)
- ``store``     labelled transactions and bounded Query pages
- ``service``   the public domain functions in one import
- ``routes``, ``version_routes``, ``graph_routes``, ``activity_routes``: the REST API (catalog-api)
"""
