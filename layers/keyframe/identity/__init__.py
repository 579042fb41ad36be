"""Identity: studios (tenants), users, memberships and roles, invitations, sign-in and tokens.

Modules, by name:

- ``permissions``: roles, permissions and the one table between them (lead-owned);
- ``keys``: the JWT signing keys from Secrets Manager and purpose-derived HMAC keys;
- ``tokens``: access tokens (JWT, RFC 9068 ``at+jwt``) and opaque refresh/invitation token helpers;
- ``passwords``: argon2id hashing;
- ``models``: the PynamoDB items of the tenants table;
- ``sessions``: refresh-token families (rotation with reuse detection);
- ``throttle``: failed sign-in counters;
- ``service``: register, sign in, refresh, sign out, accept an invitation, ``/me``;
- ``members``: invitations and member management;
- ``schemas`` / ``routes``: the REST surface; ``authorizer``: the API Gateway TOKEN authorizer.
"""
