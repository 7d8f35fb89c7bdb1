"""The lowest layer: errors, records, C-style numbers, vectors, memory checks, nanoBragg's random
generator, the names of choices.  Imports nothing of nbgpu but the compiled library."""
