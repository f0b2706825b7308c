-- Per-ward protocols (issue 14, item 3; docs/alerts.md "Ward protocols"): the
-- protocol a ward runs, a name from ward/protocols.py's table.  NEWS2 is
-- scored on every ward; a protocol adds its own rules (COVID-19 oximetry
-- @home's SpO2 levels, heart failure's daily weight gain) and its monitoring
-- intervals.  Set by `vward ward add --protocol` and an admin through
-- /api/v1/wards/{ward}; existing wards keep running NEWS2.
ALTER TABLE wards
    ADD COLUMN protocol text NOT NULL DEFAULT 'news2'
        CONSTRAINT wards_protocol_known
        CHECK (protocol IN ('news2', 'covid-oximetry', 'heart-failure'));
