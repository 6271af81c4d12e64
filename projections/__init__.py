"""Read models as pure folds of domain events (and, later, a definitions file).

Modules here take (event type, Avro-shaped record) pairs and return rows or credits;
they never touch a database or a broker, so both modes share them.
"""
