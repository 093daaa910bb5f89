"""GET /lambdalab/http: where the front door answers, so a notebook can build a REST API's address.

An HTTP API reports its address (ApiEndpoint) and a function URL is its own address; a REST API
has none in AWS's API (its address is a known form, https://<id>.execute-api.<region>.
amazonaws.com/<stage>), so a notebook asks here for the local form's base.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...core.admin import AdminRequest, AdminRoutes
from .front_door import FrontDoor

PATH = "/lambdalab/http"


@dataclass(frozen=True)
class FrontDoorAddress:
    """The answer to GET /lambdalab/http: the base URL of one cloud's front door (started if need be)."""

    door: FrontDoor

    def __call__(self, request: AdminRequest) -> dict:
        return {"base_url": self.door.base_url()}


def register(routes: AdminRoutes, door: FrontDoor) -> None:
    routes.add("GET", PATH, FrontDoorAddress(door))
