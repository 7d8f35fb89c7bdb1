"""nbgpu batch: the job file, the one job runner, the state of a batch, and its executors (this
process, or Dask workers)."""
