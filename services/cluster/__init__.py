"""Scale-out on Ray (issue 13): shards that follow the change log, and the fan-out the ingress searches with.

shard_indexes.py  one shard's part of a collection's vector and BM25 indexes (the usual backends)
shard.py          ShardServer: loads or rebuilds its part, follows the change log, answers searches
fanout.py         the ingress side: ask every shard, merge top-k, count who answered
ingress.py        ClusterEngine: today's Engine with sharded indexes behind ``ctx.vectors``/``ctx.lexical``
termstats.py      the ingress's kept BM25 term statistics (a repeated query skips that round while current)
deploy.py         Ray Serve deployments (one per shard, R replicas) and handles; the only module importing ray
ray_ingest.py     embedding on a Ray Data actor pool for ``latentspace ingest --ray``

Nothing here is imported unless ``--ray`` is asked for; only deploy.py and ray_ingest.py need Ray.
"""
