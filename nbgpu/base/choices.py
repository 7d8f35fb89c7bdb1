"""The names of choices a user makes by flag, kept apart from what implements them, so that the
flag table can check a value without loading an engine or an output format."""
BACKENDS = ("auto", "cuda", "c")            # -backend: engine.select picks the engine
PRECISIONS = ("double", "single")          # -precision
COMPRESSIONS = ("auto", "none", "bslz4")    # -nexus_compression, --nexus-compression: io.nexus
