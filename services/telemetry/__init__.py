"""The telemetry service: an OTLP trace receiver that stores spans in SQLite, and the Telemetry API that reads them."""
