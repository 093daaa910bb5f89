"""GET /lambdalab/http: where the front door answers, so a notebook can build a REST API's address.

An HTTP API reports its address (ApiEndpoint) and a function URL is its own address; a REST API
has none in AWS's API (its address is a known form, https://<id>.execute-api.<region>.
amazonaws.com/<stage>), so a notebook asks here for the local form's base.

The request is also how the two HTTP trigger modules of one cloud share its front door: the
first to install makes the door and adds this request, the second finds the door behind it
(no module keeps a door for "the" cloud).
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


def front_door_of(routes: AdminRoutes) -> FrontDoor:
    """The front door of the cloud whose admin routes these are, made (and its request added) on first use."""
    handler = routes.find("GET", PATH)
    if isinstance(handler, FrontDoorAddress):
        return handler.door
    door = FrontDoor()
    routes.add("GET", PATH, FrontDoorAddress(door))
    return door
