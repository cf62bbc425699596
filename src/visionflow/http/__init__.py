"""HTTP transport: parse requests, call services, serialize. No model logic here."""
