"""Which patients and wards a signed-in person may see (issue 14, item 6): a
clinician only the wards their team covers (and those whose rota they are
on), an admin all.  The one place the API enforces it; the rule itself is
ward/access.py's.

Three ways in, so that a route cannot forget it:

- ``guard``, a dependency of the whole app (api/app.py): a path or
  query parameter that names a patient (``patient_id``, ``patient``,
  ``subject``) or a ward (``ward_id``, ``ward``) is checked before the route
  runs, so a route added later with such a parameter is scoped by default;
- ``check_patient`` for routes that learn whose a thing is only once they
  have loaded it (an alert, a document);
- ``Visible``, the person's wards, for the lists (patients, alerts, wards).

The answers: a patient out of the person's wards is 404 "no patient P",
word for word what a patient that does not exist gets (their existence is
health data: hazard H71).  A ward that exists but is not theirs is 403
"not one of your wards": a ward's name is the organisation's, not a
patient's, and the answer tells the clinician what to ask for; a ward that
does not exist is 404 as before."""

from __future__ import annotations

from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.routing import APIRoute

from api import answers, auth
from api.deps import Conn, CurrentUser, identify
from ward import access
from ward.errors import NotFound

# Parameter names that say "a patient" or "a ward", in a path or a query.
PATIENT_PARAMETERS = ("patient_id", "patient", "subject")
WARD_PARAMETERS = ("ward_id", "ward")


def wards(conn: psycopg.Connection, user: auth.User) -> access.Wards:
    """The wards ``user`` sees: None (every ward) for an admin."""
    if user.is_admin:
        return None
    return access.wards_of(conn, user.name)


def check_patient(conn: psycopg.Connection, user: auth.User, patient_id: str) -> None:
    """Raise 404 (as for a patient that does not exist: no existence leak) when
    ``patient_id`` is not on one of ``user``'s wards."""
    if user.is_admin:
        return
    if not access.may_see(wards(conn, user), access.patient_ward(conn, patient_id)):
        raise NotFound(f"no patient {patient_id}")


def check_ward(conn: psycopg.Connection, user: auth.User, ward_id: str) -> None:
    """Raise 404 for a ward that does not exist, 403 for one that is not one
    of ``user``'s wards."""
    if user.is_admin:
        return
    if not access.may_see(wards(conn, user), ward_id):
        if not access.ward_exists(conn, ward_id):
            raise NotFound(f"no ward {ward_id}")
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"{ward_id} is not one of your wards ({user.name}); an admin"
                            f" adds you to its team (`vward team join`)")


def _patient_id(value: str) -> str:
    """FHIR names a patient `Patient/id` as well as `id`."""
    return value.removeprefix("Patient/")


def guard(request: Request) -> None:
    """Check every patient and ward the request names in its path or query
    against the signed-in person's wards.  Nothing named: nothing to check, and
    no database connection taken (it is a dependency of the whole app, /healthz
    included); no sign-in asked for here: the route's own dependencies do that."""
    # A reference that is no patient's (`Group/x`) is the route's to refuse (400).
    named_patients = [p for k in PATIENT_PARAMETERS for v in _values(request, k)
                      if "/" not in (p := _patient_id(v))]
    named_wards = [v for k in WARD_PARAMETERS for v in _values(request, k)]
    if not named_patients and not named_wards:
        return
    # Given back before the route takes its own (dependencies of the app run first).
    with request.app.state.pool.connection() as conn:
        who = identify(request, conn)
        if not isinstance(who, auth.User) or who.is_admin:
            return  # no one (401) or a device (403): the route's own dependencies answer
        for patient_id in named_patients:
            check_patient(conn, who, patient_id)
        for ward_id in named_wards:
            check_ward(conn, who, ward_id)


def _values(request: Request, name: str) -> list[str]:
    values = request.query_params.getlist(name)
    path = request.path_params.get(name)
    if isinstance(path, str):
        values.append(path)
    return values


def guarded(router: APIRouter) -> APIRouter:
    """``router``, its routes saying in the OpenAPI schema what ``guard`` may
    answer where they have a parameter it checks (and do not say it already);
    include it with ``dependencies=[Guard]``."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        fields = (*route.dependant.path_params, *route.dependant.query_params)
        if not {f.alias for f in fields} & {*PATIENT_PARAMETERS, *WARD_PARAMETERS}:
            continue
        fhir = route.path.startswith("/fhir")
        for code, text in ((403, "Not for this role (a device's token, a clinician on an admin"
                                 " route), or a ward that is not one of yours"),
                           (404, "No such patient or ward, or a patient not on your wards")):
            answer: dict[str, Any] = ({"content": answers.FHIR[403]["content"]} if fhir
                                      else {"model": answers.ErrorOut})
            route.responses.setdefault(code, {**answer, "description": text})
    return router


def visible(user: CurrentUser, conn: Conn) -> access.Wards:
    return wards(conn, user)


# The signed-in person's wards, for a list route: None = every ward (admin).
Visible = Annotated[access.Wards, Depends(visible)]
Guard = Depends(guard)
