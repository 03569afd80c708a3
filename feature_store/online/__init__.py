"""The online store: Redis.

`keys` is the key layout and `text` the text form of each dtype; `client` is the
one client factory, which decides single node or cluster once; `writes/` is the
sync's bulk writers, `reader/` the API's pipelined reads, `embedded/` the
redis-server (single or cluster) the project starts for development and tests.
"""
