"""Setup: the flag table, the input cache, the setup stages and their records, and prepare
(argv -> Setup), in nanoBragg's order."""
