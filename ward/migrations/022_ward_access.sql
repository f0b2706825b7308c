-- Issue 14, item 6: wards are separate.  A clinician sees the wards of the
-- teams they belong to (a team belongs to one ward: migration 013), and the
-- wards whose rota they are on (a person paged for a ward must be able to open
-- its alerts: hazard H70); an admin sees every ward.  Written by
-- ward/team_store.py (vward user add --ward, vward team ...), read by
-- ward/access.py (wards_of), which api/scope.py and the dashboard ask.
--
-- A membership is a row while it lasts; leaving deletes it (who added whom
-- and when is kept while it matters: the read log records every read anyway).

CREATE TABLE team_members (
    team_id   bigint NOT NULL REFERENCES teams ON DELETE CASCADE,
    user_id   bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    added_by  text NOT NULL CHECK (btrim(added_by) <> ''),
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, user_id)
);
-- wards_of reads by person.
CREATE INDEX team_members_user ON team_members (user_id);
