"""Which patients and wards a signed-in person may see (issue 14, item 6): a
clinician only the wards their team covers, an admin all.  The one place the
API enforces it; routes that load a patient by some other id (a document, an
alert) call ``check_patient`` once they know whose it is.

Interface fixed by the lead for the parts built at the same time
(/work/notes/issue14.md); the team rule itself lands with migration 022.
Until then every signed-in person sees every ward, as before."""

from __future__ import annotations

import psycopg

from api import auth


def check_patient(conn: psycopg.Connection, user: auth.User, patient_id: str) -> None:
    """Raise 404 (as for a patient that does not exist: no existence leak) when
    ``patient_id`` is not on one of ``user``'s wards."""
    del conn, user, patient_id


def check_ward(conn: psycopg.Connection, user: auth.User, ward_id: str) -> None:
    """Raise 404 when ``ward_id`` is not one of ``user``'s wards."""
    del conn, user, ward_id
