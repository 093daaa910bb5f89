"""SigV4 for AuthType AWS_IAM: who signed this request, and did they sign what arrived?

The keys are looked up in moto's IAM and STS (the learner's admin user, or a role's temporary
credentials such as a function's), the signature is recomputed with botocore's own SigV4
signer over the request as received, and the caller's identity-based policies are read with
moto's policy evaluator. A refusal says what AWS says: the messages below are Lambda's.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from moto.iam.access_control import (AssumedRoleAccessKey, CreateAccessKeyFailure, IAMPolicy, PermissionResult,
                                     create_access_key)

from .messages import HttpRequest

SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your "
                      "AWS Secret Access Key and signing method. Consult the service documentation for details.")
INVALID_TOKEN = "The security token included in the request is invalid."


@dataclass(frozen=True)
class SignedCaller:
    """The principal whose keys signed the request."""

    arn: str  # arn:aws:iam::123456789012:user/learner, or arn:aws:sts::...:assumed-role/role/session
    account_id: str
    access_key_id: str
    caller_id: str  # AIDA... for a user, AROA...:session for a role session
    role_arn: str | None = None  # arn:aws:iam::...:role/name for a role session
    policies: tuple[Any, ...] = ()

    def identity_allows(self, action: str, resource: str) -> bool:
        """Do the caller's own IAM policies allow it? An explicit Deny wins."""
        allowed = False
        for policy in self.policies:
            result = IAMPolicy(policy).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return False
            allowed = allowed or result == PermissionResult.PERMITTED
        return allowed

    def principals(self) -> list[str]:
        """How a resource-based policy may name this caller: its ARN, its role's ARN, its account."""
        return [name for name in (self.arn, self.role_arn, self.account_id) if name]

    def authorizer(self) -> dict[str, Any]:
        """requestContext.authorizer of a function URL event."""
        return {"iam": {"accessKey": self.access_key_id, "accountId": self.account_id, "callerId": self.caller_id,
                        "cognitoIdentity": None, "principalOrgId": None, "userArn": self.arn,
                        "userId": self.caller_id}}


class SigningError(Exception):
    """Not signed, or not signed right; `message` is the body AWS answers with."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _authorization_parts(header: str) -> dict[str, str]:
    parts = {}
    for item in header[len("AWS4-HMAC-SHA256"):].split(","):
        key, _, value = item.strip().partition("=")
        parts[key] = value
    return parts


def verify(request: HttpRequest, account_id: str, service: str) -> SignedCaller:
    """The caller, if `request` carries a valid SigV4 signature for `service`; else SigningError."""
    header = request.header("Authorization") or ""
    if not header.startswith("AWS4-HMAC-SHA256 "):
        raise SigningError("Forbidden")
    parts = _authorization_parts(header)
    scope = parts.get("Credential", "").split("/")
    signed_headers = [name for name in parts.get("SignedHeaders", "").split(";") if name]
    timestamp = request.header("X-Amz-Date")
    if len(scope) != 5 or not signed_headers or not parts.get("Signature") or not timestamp:
        raise SigningError("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                           "parameters, and an X-Amz-Date header.")
    access_key_id, _, region, scoped_service, _ = scope
    if scoped_service != service:
        raise SigningError(f"Credential should be scoped to correct service: '{service}'.")
    headers = _HeaderView(request)
    try:
        key = create_access_key(account_id=account_id, partition="aws", access_key_id=access_key_id,
                                headers=headers)  # type: ignore[arg-type]
    except CreateAccessKeyFailure:
        raise SigningError(INVALID_TOKEN) from None
    aws_request = AWSRequest(method=request.method, url=request.url, data=request.body,
                             headers={name: request.header(name) or "" for name in signed_headers})
    aws_request.context["timestamp"] = timestamp
    signer = SigV4Auth(key.create_credentials(), scoped_service, region)
    expected = signer.signature(signer.string_to_sign(aws_request, signer.canonical_request(aws_request)), aws_request)
    if not hmac.compare_digest(expected, parts["Signature"]):
        raise SigningError(SIGNATURE_MISMATCH)
    return _caller(key, account_id, access_key_id)


def _caller(key: Any, account_id: str, access_key_id: str) -> SignedCaller:
    policies = tuple(key.collect_policies())
    if isinstance(key, AssumedRoleAccessKey):
        role_name = key._owner_role_name
        role = key.backend.get_role(role_name)
        return SignedCaller(key.arn, account_id, access_key_id, f"{role.id}:{key._session_name}",
                            role_arn=role.arn, policies=policies)
    user = key.backend.get_user(key._owner_user_name)
    return SignedCaller(key.arn, account_id, access_key_id, user.id, policies=policies)


class _HeaderView:
    """Case-insensitive header lookup in the shape moto's key lookup expects (`in` and [])."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._request.header(name) is not None

    def __getitem__(self, name: str) -> str:
        value = self._request.header(name)
        if value is None:
            raise KeyError(name)
        return value
