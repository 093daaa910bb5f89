"""The local addresses of API Gateway stages, from a notebook.

A function URL's address is in CreateFunctionUrlConfig's answer and an HTTP API's in
CreateApi's ApiEndpoint, as on AWS. A REST API stage's address is a known form on AWS,
https://<api-id>.execute-api.<region>.amazonaws.com/<stage>/; here it is::

    from lambdalab.client.http_addresses import rest_api_url
    url = rest_api_url(api_id, "prod")      # http://127.0.0.1:<port>/<api-id>/prod/
    requests.get(url + "items/42")
"""

from __future__ import annotations

from . import control as _client


def base_url() -> str:
    """http://127.0.0.1:<port> of the running cloud's HTTP front door (started if need be)."""
    return _client.admin_request(_client.running_cloud(), "GET", "/lambdalab/http")["base_url"]  # type: ignore[index]


def rest_api_url(rest_api_id: str, stage_name: str) -> str:
    """The invoke URL of a REST API stage, ending with "/"."""
    return f"{base_url()}/{rest_api_id}/{stage_name}/"


def http_api_url(api_id: str, stage_name: str = "$default") -> str:
    """The invoke URL of an HTTP API stage (its ApiEndpoint for $default), ending with "/"."""
    suffix = "" if stage_name == "$default" else f"{stage_name}/"
    return f"{base_url()}/{api_id}/{suffix}"
