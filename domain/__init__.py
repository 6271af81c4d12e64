"""The lead lifecycle model: aggregates, their events and the funnel rules.

Nothing here knows about Kafka, Avro or SQL; adapters translate to and from these types.
"""
