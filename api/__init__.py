"""The web app: REST API, FHIR, HTTP ingestion and sign-in (docs/api.md)."""
