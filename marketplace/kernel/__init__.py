"""The kernel: what every package builds on, knowing none of them.

Database types and extensions, the state machine engine, the audit log, row locks, service
errors, queues, the mail outbox, the page cache, named signals and shared wording. Nothing
here imports the product's other packages (``tests/test_architecture.py`` checks it).
"""
