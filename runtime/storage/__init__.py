"""K11 storage: the bundle indexer, bundle manifests, the Pose Coach adapter, the Mac5 handoff, BagIt."""
