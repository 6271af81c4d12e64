"""The long-running Kafka processes: ingest, relay and projection.

Each turns broker input into calls on the same service code the embedded mode uses, and
commits its position only after its own work is durable.
"""
