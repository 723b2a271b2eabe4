"""What an instance keeps besides MongoDB: presence marks and rate-limit hits.

Each has a Protocol, a store in this process (one instance) and a store in Redis (shared
by every instance). Both Redis stores expire by themselves, so a crashed instance leaves
nothing behind for long. Nothing here knows use cases, HTTP or the hub.
"""
