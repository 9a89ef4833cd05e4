"""Identity and access management (issue 24), shaped as DC/OS' IAM (bouncer).

Users (argon2id password hashes), service accounts (RSA public keys, optionally a CURVE
key for the actor API), groups and ACLs (rid x action grants) live in ONE state-store
document, ``iam/state``, written by the leader's ``IamService`` (the ``/acs/api/v1``
API) and watched by every master's ``IamNodeService``, which hands the gateway a
``GatewayAuth``: token verification (RS256 JWTs signed by the cluster key, cached) and
permission checks (``dcos:superuser``, ``full``, groups, rid hierarchy).

```
 leader: IamService  --CAS-->  ZooKeeper /acs docs/iam/state  --watch-->  every master:
         /acs/api/v1/*                                                   IamNodeService
         login -> JWT                                                    IamView -> GatewayAuth
                                                                         -> gateway.set_auth
```

Imports are lazy (PEP 562): the pure modules (model, tokens, passwords, rate limiter,
``GatewayAuth``) load no aiohttp, kazoo or zmq.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime import lazy_exports

if TYPE_CHECKING:
    from actors.iam._audit import AuditLog, audit_path
    from actors.iam._auth import GatewayAuth, IamView, Principal
    from actors.iam._bootstrap import read_bootstrap, write_bootstrap
    from actors.iam._errors import (
        Conflict,
        Forbidden,
        IamConfigError,
        IamError,
        InvalidInput,
        NotFound,
        RateLimited,
        Unauthenticated,
    )
    from actors.iam._model import (
        ACTIONS,
        SUPERUSER_RID,
        Policy,
        check_uid,
        covering,
        normalize_rid,
    )
    from actors.iam._passwords import PARAMETERS, hash_password, verify_password
    from actors.iam._service import IamNodeService, IamService
    from actors.iam._tokens import (
        DEFAULT_TTL,
        generate_cluster_key,
        generate_keypair,
        issue_token,
        jwks,
        load_private_key,
        parse_authorization,
        service_login_token,
        verify_token,
    )

_WHERE = {
    "AuditLog": "._audit",
    "audit_path": "._audit",
    "GatewayAuth": "._auth",
    "IamView": "._auth",
    "Principal": "._auth",
    "read_bootstrap": "._bootstrap",
    "write_bootstrap": "._bootstrap",
    "Conflict": "._errors",
    "Forbidden": "._errors",
    "IamConfigError": "._errors",
    "IamError": "._errors",
    "InvalidInput": "._errors",
    "NotFound": "._errors",
    "RateLimited": "._errors",
    "Unauthenticated": "._errors",
    "ACTIONS": "._model",
    "SUPERUSER_RID": "._model",
    "Policy": "._model",
    "check_uid": "._model",
    "covering": "._model",
    "normalize_rid": "._model",
    "PARAMETERS": "._passwords",
    "hash_password": "._passwords",
    "verify_password": "._passwords",
    "IamNodeService": "._service",
    "IamService": "._service",
    "DEFAULT_TTL": "._tokens",
    "generate_cluster_key": "._tokens",
    "generate_keypair": "._tokens",
    "issue_token": "._tokens",
    "jwks": "._tokens",
    "load_private_key": "._tokens",
    "parse_authorization": "._tokens",
    "service_login_token": "._tokens",
    "verify_token": "._tokens",
}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
__all__ = [
    "ACTIONS",
    "DEFAULT_TTL",
    "PARAMETERS",
    "SUPERUSER_RID",
    "AuditLog",
    "Conflict",
    "Forbidden",
    "GatewayAuth",
    "IamConfigError",
    "IamError",
    "IamNodeService",
    "IamService",
    "IamView",
    "InvalidInput",
    "NotFound",
    "Policy",
    "Principal",
    "RateLimited",
    "Unauthenticated",
    "audit_path",
    "check_uid",
    "covering",
    "generate_cluster_key",
    "generate_keypair",
    "hash_password",
    "issue_token",
    "jwks",
    "load_private_key",
    "normalize_rid",
    "parse_authorization",
    "read_bootstrap",
    "service_login_token",
    "verify_password",
    "verify_token",
    "write_bootstrap",
]
