"""nbgpu bench: the cases, the columns and the reports that measure nbgpu against nanoBragg."""
