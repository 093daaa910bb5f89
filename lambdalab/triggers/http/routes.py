"""GET /lambdalab/http: where the front door answers, so a notebook can build a REST API's address.

An HTTP API reports its address (ApiEndpoint) and a function URL is its own address; a REST API
has none in AWS's API (its address is a known form, https://<id>.execute-api.<region>.
amazonaws.com/<stage>), so a notebook asks here for the local form's base.
"""

from __future__ import annotations

from ...core.admin import AdminRequest, admin_route
from .front_door import front_door


@admin_route("GET", "/lambdalab/http")
def read_front_door(request: AdminRequest) -> dict:
    return {"base_url": front_door.base_url()}
