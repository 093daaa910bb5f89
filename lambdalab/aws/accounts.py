"""The learner's account: an admin user whose keys stay the same across restarts and resets.

IAM is enforced from the first request, so the account must hold a user before anyone can
call it; the keys are kept in a file of the learner's so that a kernel started yesterday,
whose environment still holds them, keeps working with today's cloud.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends

from ..core import state

ADMIN_USER = "learner"
ADMIN_POLICY = json.dumps({"Version": "2012-10-17",
                           "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
REGION = "us-east-1"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    account_id: str = DEFAULT_ACCOUNT_ID
    region: str = REGION


def load_or_create(path: Path) -> Credentials | None:
    if path.exists():
        try:
            return Credentials(**json.loads(path.read_text()))
        except (ValueError, TypeError):
            return None
    return None


def save(path: Path, credentials: Credentials) -> None:
    """0600 from its first byte (core/state.py's write_private), in a 0700 home."""
    state.make_private_home(path.parent)
    state.write_private(path, json.dumps(asdict(credentials)).encode())


def create_admin(wanted: Credentials | None) -> Credentials:
    """Create the learner's admin user in moto, with the wanted keys if given. In a restored account
    the user is already there: it is given the wanted keys if it lacks them (credentials.json wins)."""
    account = wanted.account_id if wanted else DEFAULT_ACCOUNT_ID
    backend = iam_backends[account]["aws"]
    if ADMIN_USER not in backend.users:
        backend.create_user(region_name=REGION, user_name=ADMIN_USER, path="/", tags=[])
    backend.put_user_policy(ADMIN_USER, "AdministratorAccess", ADMIN_POLICY)
    if wanted is not None:
        existing = backend.access_keys.get(wanted.access_key_id)
        if existing is not None and existing.secret_access_key == wanted.secret_access_key:
            return wanted
    key = backend.create_access_key(ADMIN_USER)
    if wanted is not None:
        backend.access_keys.pop(key.access_key_id, None)
        key.access_key_id = wanted.access_key_id
        key.secret_access_key = wanted.secret_access_key
        backend.access_keys[key.access_key_id] = key
        return wanted
    return Credentials(key.access_key_id, key.secret_access_key, account)
